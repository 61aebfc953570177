"""TOTP secrets encrypted at rest (issue 15, point 11 c): the column grows to hold a Fernet
token and every existing plain secret is encrypted with the key derived from the app's
SECRET_KEY (forum.sealing); downgrade decrypts them again.

Revision ID: c8d9e0f1a2b3
Revises: b5e6f7a8c9d0
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c8d9e0f1a2b3'
down_revision = 'b5e6f7a8c9d0'
branch_labels = None
depends_on = None

users = sa.table('users', sa.column('id', sa.Integer), sa.column('totp_secret', sa.String))


def _rewrite(change) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.totp_secret).where(users.c.totp_secret.is_not(None))).all()
    for user_id, stored in rows:
        new = change(stored)
        if new != stored:
            conn.execute(users.update().where(users.c.id == user_id).values(totp_secret=new))


def _resize(old: int, new: int) -> None:
    """SQLite rebuilds the table for this; its lower(email) index (which the rebuild cannot
    reflect) is dropped before and made again after."""
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        op.drop_index('uq_users_email_lower', table_name='users')
    with op.batch_alter_table('users') as batch:
        batch.alter_column('totp_secret', existing_type=sa.String(length=old), type_=sa.String(length=new),
                           existing_nullable=True)
    if sqlite:
        op.create_index('uq_users_email_lower', 'users', [sa.text('lower(email)')], unique=True)


def upgrade():
    from forum import sealing

    _resize(64, 255)
    _rewrite(lambda stored: stored if sealing.is_sealed(stored) else sealing.seal(stored))


def downgrade():
    from forum import sealing

    _rewrite(sealing.unseal)
    _resize(255, 64)

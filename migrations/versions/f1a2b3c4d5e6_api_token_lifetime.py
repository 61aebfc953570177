"""API tokens with an expiry, a name, the session generation and the second factor they were
issued with. Tokens issued before this revision end (they may have outlived a password change
or a suspension, see issue 15): clients ask for a new one with ``POST /api/v1/tokens``.

Revision ID: f1a2b3c4d5e6
Revises: e7f1a2b3c4d5
Create Date: 2026-12-06 20:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1a2b3c4d5e6'
down_revision = 'e7f1a2b3c4d5'
branch_labels = None
depends_on = None


def _create(with_lifetime: bool) -> None:
    columns = [
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
    ]
    if with_lifetime:
        columns += [
            sa.Column('name', sa.String(length=80), nullable=False),
            sa.Column('generation', sa.String(length=32), nullable=False),
            sa.Column('two_factor', sa.Boolean(), nullable=False),
            sa.Column('created_at', sa.DateTime(), nullable=False),
            sa.Column('expires_at', sa.DateTime(), nullable=False),
        ]
    else:
        columns += [
            sa.Column('created_at', sa.DateTime(), nullable=False),
            sa.Column('last_used_at', sa.DateTime(), nullable=True),
        ]
    op.create_table(
        'api_tokens', *columns,
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash')),
    )
    op.create_index(op.f('ix_api_tokens_user_id'), 'api_tokens', ['user_id'], unique=False)


def _drop() -> None:
    op.drop_index(op.f('ix_api_tokens_user_id'), table_name='api_tokens')
    op.drop_table('api_tokens')


def upgrade():
    _drop()
    _create(with_lifetime=True)


def downgrade():
    _drop()
    _create(with_lifetime=False)

"""Reply chains keep a bounded depth: the post a capped reply answers, and tree pages that read
one slice of a large branch along the index (issue 15, point 10)

Revision ID: b5e6f7a8c9d0
Revises: a9c8d7e6f5b4
Create Date: 2026-12-07 10:00:00

Existing replies keep their depth; only new replies deeper than MAX_REPLY_DEPTH are placed
at the cap.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b5e6f7a8c9d0'
down_revision = 'a9c8d7e6f5b4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_to_id', sa.Integer(), nullable=True))
    op.drop_index('ix_posts_thread_branch', table_name='posts')
    op.create_index('ix_posts_thread_branch', 'posts', ['thread_id', 'branch_id', 'path'], unique=False)


def downgrade():
    op.drop_index('ix_posts_thread_branch', table_name='posts')
    op.create_index('ix_posts_thread_branch', 'posts', ['thread_id', 'branch_id'], unique=False)
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('reply_to_id')

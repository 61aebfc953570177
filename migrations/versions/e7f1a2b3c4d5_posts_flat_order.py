"""Posts of a thread in the order of the flat view: an index instead of sorting the thread

Revision ID: e7f1a2b3c4d5
Revises: d4b1e2f3a5c6
Create Date: 2026-11-26 11:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e7f1a2b3c4d5'
down_revision = 'd4b1e2f3a5c6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_posts_thread_created', 'posts', ['thread_id', 'created_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_posts_thread_created', table_name='posts')

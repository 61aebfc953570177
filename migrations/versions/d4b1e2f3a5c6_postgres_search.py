"""PostgreSQL search backend: one row of analysed tokens per indexed post

Revision ID: d4b1e2f3a5c6
Revises: c3a0d1e2f4b5
Create Date: 2026-11-25 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4b1e2f3a5c6'
down_revision = 'c3a0d1e2f4b5'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

"""two-factor authentication (TOTP) and recovery codes

Revision ID: c3a0d1e2f4b5
Revises: 6ba769fb599a
Create Date: 2026-11-25 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a0d1e2f4b5'
down_revision = '6ba769fb599a'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

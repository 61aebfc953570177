"""PostgreSQL search backend: term statistics per permission scope (Issue 15, point 4)

Revision ID: a9c8d7e6f5b4
Revises: f1a2b3c4d5e6
Create Date: 2026-12-02 20:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9c8d7e6f5b4'
down_revision = 'f1a2b3c4d5e6'
branch_labels = None
depends_on = None

C_TEXT = sa.Text().with_variant(sa.Text(collation='C'), 'postgresql')


def upgrade():
    op.create_table('search_scope_terms',
    sa.Column('field', sa.String(length=8), nullable=False),
    sa.Column('term', C_TEXT, nullable=False),
    sa.Column('scope', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('df', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('field', 'term', 'scope', name=op.f('pk_search_scope_terms'))
    )
    # an index built before has no statistics per scope: it counts as not built, so the next
    # start rebuilds it (or `flask search reindex` before, for a large forum)
    op.execute("DELETE FROM search_terms WHERE field = '' AND term = 'rebuilt'")


def downgrade():
    op.drop_table('search_scope_terms')

"""PostgreSQL search backend: one row of analysed tokens per indexed post

Revision ID: d4b1e2f3a5c6
Revises: c3a0d1e2f4b5
Create Date: 2026-11-25 18:30:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = 'd4b1e2f3a5c6'
down_revision = 'c3a0d1e2f4b5'
branch_labels = None
depends_on = None

# The PostgreSQL types, with plain stand-ins so the (then empty) tables exist on SQLite too.
TSVECTOR = sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql')
TEXT_ARRAY = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), 'postgresql')
C_TEXT = sa.Text().with_variant(sa.Text(collation='C'), 'postgresql')


def upgrade():
    op.create_table('search_documents',
    sa.Column('post_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('board_id', sa.Integer(), nullable=False),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('is_first', sa.Boolean(), nullable=False),
    sa.Column('best_practice', sa.Boolean(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('tags', TEXT_ARRAY, nullable=False),
    sa.Column('title_length', sa.Integer(), nullable=False),
    sa.Column('body_length', sa.Integer(), nullable=False),
    sa.Column('tsv', TSVECTOR, nullable=False),
    sa.PrimaryKeyConstraint('post_id', name=op.f('pk_search_documents'))
    )
    op.create_index(op.f('ix_search_documents_thread_id'), 'search_documents', ['thread_id'], unique=False)
    op.create_index(op.f('ix_search_documents_board_id'), 'search_documents', ['board_id'], unique=False)
    op.create_index(op.f('ix_search_documents_cluster_id'), 'search_documents', ['cluster_id'], unique=False)
    # GIN on PostgreSQL (with a small pending list, see forum/models/search.py); SQLite ignores
    # the postgresql_* arguments and builds a plain index
    op.create_index('ix_search_documents_tsv', 'search_documents', ['tsv'], unique=False, postgresql_using='gin',
                    postgresql_with={'gin_pending_list_limit': 512})
    op.create_table('search_terms',
    sa.Column('field', sa.String(length=8), nullable=False),
    sa.Column('term', C_TEXT, nullable=False),
    sa.Column('df', sa.BigInteger(), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('field', 'term', name=op.f('pk_search_terms'))
    )
    op.create_index(op.f('ix_search_terms_generation'), 'search_terms', ['generation'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_search_terms_generation'), table_name='search_terms')
    op.drop_table('search_terms')
    op.drop_index('ix_search_documents_tsv', table_name='search_documents')
    op.drop_index(op.f('ix_search_documents_cluster_id'), table_name='search_documents')
    op.drop_index(op.f('ix_search_documents_board_id'), table_name='search_documents')
    op.drop_index(op.f('ix_search_documents_thread_id'), table_name='search_documents')
    op.drop_table('search_documents')

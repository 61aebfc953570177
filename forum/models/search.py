"""Search tables: the outbox every backend drains, and the PostgreSQL backend's index.

``search_documents`` and ``search_terms`` are the index of ``FORUM_SEARCH_BACKEND=postgres``
(``forum.search.pg_backend``); they exist on every database and stay empty under Whoosh.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from forum.extensions import db
from forum.models.util import utcnow

# PostgreSQL types, with a plain stand-in so the tables exist (empty) on SQLite too
TSVECTOR = Text().with_variant(postgresql.TSVECTOR(), "postgresql")
TEXT_ARRAY = JSON().with_variant(postgresql.ARRAY(Text()), "postgresql")
# byte order, so that a prefix is a range of the primary key (prefix search)
C_TEXT = Text().with_variant(Text(collation="C"), "postgresql")


class SearchOutbox(db.Model):
    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "post": (re)index or drop one post; "thread": every post of a thread;
    # "cluster": every post of a cluster (membership or move changes)
    kind: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SearchDocument(db.Model):
    """One indexed post: its place (for the permission filter and the user's filters), the
    plain text (for snippets) and ``tsv``, the tokens of ``forum.search.analysis`` with
    positions, title words weighted A (prefixed ``t:``), body words B and author names C
    (prefixed ``a:``). No foreign keys: the index is rebuilt from the outbox and may lag."""

    __tablename__ = "search_documents"

    post_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    thread_id: Mapped[int] = mapped_column(Integer, index=True)
    board_id: Mapped[int] = mapped_column(Integer, index=True)
    cluster_id: Mapped[int | None] = mapped_column(Integer, index=True)
    author_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    is_first: Mapped[bool] = mapped_column(Boolean)
    best_practice: Mapped[bool] = mapped_column(Boolean)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(TEXT_ARRAY)
    title_length: Mapped[int] = mapped_column(Integer)   # tokens, as BM25 counts them
    body_length: Mapped[int] = mapped_column(Integer)
    tsv: Mapped[str] = mapped_column(TSVECTOR)

    # a small pending list: new posts are batched into the GIN index, but a search never has to
    # scan more than 512 kB of not yet merged entries (the default 4 MB doubles query times)
    __table_args__ = (Index("ix_search_documents_tsv", "tsv", postgresql_using="gin",
                            postgresql_with={"gin_pending_list_limit": 512}),)


class SearchTerm(db.Model):
    """The index's lexicon: in how many documents each term of a field occurs (``df``; 0 once
    the last one is gone), and the ``generation`` that last changed it, so that each process
    refreshes only what changed. ``field = ''`` holds the totals: ``generation``, ``rebuilt``
    (the generation of the last full rebuild), ``docs`` and the summed ``title``/``body``
    lengths."""

    __tablename__ = "search_terms"

    field: Mapped[str] = mapped_column(String(8), primary_key=True)
    term: Mapped[str] = mapped_column(C_TEXT, primary_key=True)
    df: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int] = mapped_column(BigInteger, index=True)


class SearchScopeTerm(db.Model):
    """``search_terms`` per permission scope: in how many documents of one cluster (``scope``
    = its id) or of the platform-wide boards (``scope = 0``) each term of a field occurs, and
    with ``field = ''`` each scope's ``docs`` and summed quantised ``title``/``body`` lengths.
    A search sums the scopes its viewer may read, so its statistics never depend on posts the
    viewer cannot see (Issue 15, point 4)."""

    __tablename__ = "search_scope_terms"

    field: Mapped[str] = mapped_column(String(8), primary_key=True)
    term: Mapped[str] = mapped_column(C_TEXT, primary_key=True)
    scope: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    df: Mapped[int] = mapped_column(BigInteger)

"""From the database to the index: documents, the outbox drain and the full rebuild.

Writers only add outbox rows (``forum.search.enqueue``) in their own transaction. One
drainer at a time — whoever holds ``drain.lock`` in the index folder — reads the rows,
reads the *current* state of what they name, updates the index and deletes exactly the
rows it read (the PostgreSQL backend's lock is an advisory lock instead, shared by every
server). A process that cannot get the lock leaves the rows for the next drain, so no
request ever fails or waits long on the index, and no update is lost: a row disappears
only after the index holds the state that was committed before the row was read.
"""
from __future__ import annotations

import collections
import contextlib
import fcntl
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sqlalchemy import ColumnElement, delete, false, func, or_, select, true
from sqlalchemy.orm import Session

from forum.extensions import db
from forum.models import Board, Post, SearchOutbox, Tag, Thread, User, thread_tags
from forum.rendering import plain_text
from forum.search.backend import Backend, PostDocument
from forum.search.whoosh_backend import LOCK_NAME

# What search may show: not deleted, not hidden, not waiting for a manager's approval.
INDEXABLE = (Post.deleted_at.is_(None), Post.hidden_at.is_(None), Post.awaiting_approval.is_(False))

BATCH = 500
DELETE_CHUNK = 1000


@contextlib.contextmanager
def writer_lock(directory: Path, wait: float = 0.0) -> Iterator[bool]:
    """A process-safe lock file; yields whether it was taken within ``wait`` seconds."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_NAME, "a+") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.02)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_for(backend: Backend, directory: Path, wait: float = 0.0):
    """The backend's own writer lock where it has one (PostgreSQL: an advisory lock all
    servers share), else the lock file beside the index."""
    own = getattr(backend, "writer_lock", None)
    return own(wait) if own is not None else writer_lock(directory, wait)


def _tags(session: Session, thread_ids: Iterable[int] | None) -> dict[int, list[str]]:
    query = select(thread_tags.c.thread_id, Tag.slug).join(Tag, Tag.id == thread_tags.c.tag_id)
    if thread_ids is not None:
        query = query.where(thread_tags.c.thread_id.in_(list(thread_ids)))
    tags: dict[int, list[str]] = collections.defaultdict(list)
    for thread_id, slug in session.execute(query):
        tags[thread_id].append(slug)
    return tags


def documents(session: Session, condition: ColumnElement[bool],
              tags: dict[int, list[str]] | None = None) -> Iterator[PostDocument]:
    """Every indexable (not hidden, not deleted) post that meets ``condition``. With ``tags``
    (thread id → slugs, for a rebuild) the rows are streamed; without, they are read at once
    and their threads' tags fetched in one more query."""
    query = (
        select(Post.id, Post.thread_id, Post.author_id, Post.parent_id, Post.body_html, Post.created_at,
               Thread.title, Thread.board_id, Board.cluster_id, User.username, User.display_name)
        .join(Thread, Thread.id == Post.thread_id)
        .join(Board, Board.id == Thread.board_id)
        .outerjoin(User, User.id == Post.author_id)
        .where(*INDEXABLE, condition)
        .order_by(Post.id)
    )
    if tags is None:
        rows: Iterable = session.execute(query).all()
        tags = _tags(session, {row.thread_id for row in rows}) if rows else {}
    else:
        rows = session.execute(query.execution_options(yield_per=2000))
    for row in rows:
        yield PostDocument(
            post_id=row.id, thread_id=row.thread_id, board_id=row.board_id, cluster_id=row.cluster_id,
            author_id=row.author_id, author=f"{row.username or ''} {row.display_name or ''}".strip(),
            title=row.title, body=plain_text(row.body_html), tags=tags.get(row.thread_id, []),
            created_at=row.created_at, is_first=row.parent_id is None,
        )


def indexable_posts(session: Session) -> dict[int, int]:
    """post id → board id of every post that belongs in the index."""
    query = (select(Post.id, Thread.board_id).join(Thread, Thread.id == Post.thread_id)
             .where(*INDEXABLE))
    return dict(session.execute(query).all())


def _apply(session: Session, backend: Backend, rows: list) -> None:
    ids: dict[str, set[int]] = collections.defaultdict(set)
    for row in rows:
        ids[row.kind].add(row.object_id)
    boards = set(ids["board"])
    if ids["cluster"]:
        boards |= set(session.scalars(select(Board.id).where(Board.cluster_id.in_(ids["cluster"]))))
    condition = or_(
        Post.id.in_(ids["post"]) if ids["post"] else false(),
        Post.thread_id.in_(ids["thread"]) if ids["thread"] else false(),
        Thread.board_id.in_(boards) if boards else false(),
    )
    docs = list(documents(session, condition))
    backend.update(docs, removed_posts=ids["post"], removed_threads=ids["thread"], removed_boards=boards,
                   removed_clusters=ids["cluster"])


def drain(backend: Backend, directory: Path, wait: float = 0.0, ids: Iterable[int] | None = None) -> int:
    """Brings the index up to date with the outbox; returns the rows handled (0 when another
    process holds the lock or nothing was queued). With ``ids`` only those rows (a request's
    own writes, ``service.drain_own``); the rest stay for the worker."""
    only = None if ids is None else sorted(set(ids))
    if only is not None and not only:
        return 0
    mine = true() if only is None else SearchOutbox.id.in_(only)
    with Session(db.engine) as session:
        if session.scalar(select(SearchOutbox.id).where(mine).limit(1)) is None:
            return 0
    handled = 0
    with lock_for(backend, directory, wait) as locked:
        if not locked:
            return 0
        while True:
            with Session(db.engine) as session:
                rows = session.execute(
                    select(SearchOutbox.id, SearchOutbox.kind, SearchOutbox.object_id)
                    .where(mine).order_by(SearchOutbox.id).limit(BATCH)
                ).all()
                if not rows:
                    return handled
                _apply(session, backend, rows)
                session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_([row.id for row in rows])))
                session.commit()
            handled += len(rows)
            if len(rows) < BATCH:
                return handled


def rebuild(backend: Backend, directory: Path, progress: Callable[[int], None] | None = None,
            wait: float = 600.0, only_if_broken: bool = False) -> int | None:
    """Rebuilds the index from the database. ``None`` when another process held the lock
    for longer than ``wait`` or (``only_if_broken``) someone else already rebuilt it."""
    with lock_for(backend, directory, wait) as locked:
        if not locked or (only_if_broken and backend.ready()):
            return None
        with Session(db.engine) as session:
            seen = list(session.scalars(select(SearchOutbox.id)))
            count = backend.reindex(documents(session, true(), _tags(session, None)), progress)
            for start in range(0, len(seen), DELETE_CHUNK):
                session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(seen[start:start + DELETE_CHUNK])))
            session.commit()
        return count


def count_indexable(session: Session) -> int:
    return session.scalar(select(func.count(Post.id)).where(*INDEXABLE)) or 0

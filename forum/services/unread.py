"""Unread tracking per member and thread: the newest post seen, and per board "everything up
to here is read". Lists ask once for all their threads."""
from __future__ import annotations

import dataclasses

from sqlalchemy import and_, func, or_, select

from forum.extensions import db
from forum.models import Board, BoardRead, Notification, Post, Thread, ThreadRead, utcnow
from forum.permissions import Viewer
from forum.services import notifications, watching


@dataclasses.dataclass(frozen=True)
class Unread:
    count: int
    first_post_id: int


def _unread_posts(user: Viewer, thread_ids: list[int]):
    """Posts the viewer has not read in those threads: newer than both read marks, written by
    someone else, not deleted, and not older than the account (the past is not "new")."""
    return (
        select(Post.thread_id, func.count(Post.id), func.min(Post.id))
        .join(Thread, Thread.id == Post.thread_id)
        .outerjoin(ThreadRead, and_(ThreadRead.thread_id == Post.thread_id, ThreadRead.user_id == user.id))
        .outerjoin(BoardRead, and_(BoardRead.board_id == Thread.board_id, BoardRead.user_id == user.id))
        .where(Post.thread_id.in_(thread_ids),
               Post.id > func.coalesce(ThreadRead.last_read_post_id, 0),
               Post.id > func.coalesce(BoardRead.last_read_post_id, 0),
               Post.created_at >= user.created_at,
               Post.deleted_at.is_(None), Post.awaiting_approval.is_(False),
               or_(Post.author_id.is_(None), Post.author_id != user.id))
        .group_by(Post.thread_id)
    )


def counts(user: Viewer, threads: list[Thread]) -> dict[int, Unread]:
    """Unread posts per thread of a list, in one query."""
    if not user.is_member or not threads:
        return {}
    rows = db.session.execute(_unread_posts(user, [t.id for t in threads]))
    return {thread_id: Unread(count, first) for thread_id, count, first in rows if count}


def first_unread_post_id(user: Viewer, thread: Thread) -> int | None:
    found = counts(user, [thread]).get(thread.id)
    return found.first_post_id if found else None


def record_read(user: Viewer, thread: Thread, post_ids: list[int]) -> None:
    """Called when a page of the thread is shown: the read mark only moves forward; the
    thread's notifications count as read too. Written on its own connection, so the page's
    objects in the session stay loaded."""
    if not user.is_member or not post_ids:
        return
    newest = max(post_ids)
    # Reading again what was read before is the common case: two cheap reads instead of a
    # write transaction on every page view (writes serialise, above all on SQLite).
    read_mark = select(ThreadRead.last_read_post_id).where(ThreadRead.user_id == user.id,
                                                          ThreadRead.thread_id == thread.id).scalar_subquery()
    unread_notice = select(Notification.id).where(
        Notification.user_id == user.id, Notification.thread_id == thread.id, Notification.read_at.is_(None)
    ).exists()
    mark, pending = db.session.execute(select(read_mark, unread_notice)).one()
    if mark is not None and mark >= newest and not pending:
        return
    insert = watching.dialect_insert(ThreadRead).values(
        user_id=user.id, thread_id=thread.id, last_read_post_id=newest, updated_at=utcnow())
    greatest = func.max if db.session.get_bind().dialect.name == "sqlite" else func.greatest
    with db.engine.begin() as connection:
        connection.execute(insert.on_conflict_do_update(
            index_elements=["user_id", "thread_id"],
            set_={"last_read_post_id": greatest(ThreadRead.last_read_post_id, insert.excluded.last_read_post_id),
                  "updated_at": insert.excluded.updated_at},
        ))
        connection.execute(notifications.thread_read_statement(user, thread.id))


def mark_board_read(user: Viewer, board: Board) -> None:
    newest = db.session.scalar(
        select(func.max(Post.id)).join(Thread, Thread.id == Post.thread_id).where(Thread.board_id == board.id)) or 0
    insert = watching.dialect_insert(BoardRead).values(
        user_id=user.id, board_id=board.id, last_read_post_id=newest, updated_at=utcnow())
    db.session.execute(insert.on_conflict_do_update(
        index_elements=["user_id", "board_id"],
        set_={"last_read_post_id": insert.excluded.last_read_post_id, "updated_at": insert.excluded.updated_at},
    ))
    db.session.commit()

"""Unread tracking per member and thread: the newest post seen, and per board "everything up
to here is read". Lists ask once for all their threads."""
from __future__ import annotations

import dataclasses

from sqlalchemy import Boolean, DateTime, Integer, bindparam, column, func, select

from forum.extensions import db
from forum.models import Board, BoardRead, Notification, Post, Thread, ThreadRead, utcnow
from forum.permissions import Viewer
from forum.services import notifications, unions, watching

UNREAD_SHOWN = 99   # a list shows at most "99+ neu" per thread


@dataclasses.dataclass(frozen=True)
class Unread:
    count: int
    first_post_id: int
    more: bool = False   # more than ``count`` unread posts ("99+")


# The first ``:cap`` unread posts of each listed thread: newer than both read marks, written by
# someone else, not deleted, not awaiting approval, and not older than the account (the past is
# not "new"). Each part walks its thread's posts from the read mark along ``ix_posts_thread_id``
# and stops at ``:cap``, so a list costs the same whether a thread has five unread posts or five
# thousand (a grouped count over 6,000 unread posts: 3 ms per list page).
_FIRST_UNREAD = unions.UnionPerRow(
    lambda n: [
        f"SELECT p.thread_id AS thread_id, p.id AS id FROM posts AS p WHERE p.thread_id = :r{n} "
        f"AND p.id > COALESCE((SELECT r.last_read_post_id FROM thread_reads AS r "
        f"WHERE r.user_id = :viewer AND r.thread_id = :r{n}), 0) "
        f"AND p.id > COALESCE((SELECT b.last_read_post_id FROM board_reads AS b JOIN threads AS t "
        f"ON t.board_id = b.board_id WHERE b.user_id = :viewer AND t.id = :r{n}), 0) "
        f"AND p.created_at >= :since AND p.deleted_at IS NULL AND p.awaiting_approval = :pending "
        f"AND (p.author_id IS NULL OR p.author_id <> :viewer) ORDER BY p.id LIMIT :cap"
    ],
    columns=[column("thread_id", Integer), column("id", Integer)],
    binds=[bindparam("since", type_=DateTime), bindparam("pending", type_=Boolean)],
)


def counts(user: Viewer, threads: list[Thread]) -> dict[int, Unread]:
    """Unread posts per thread of a list, in one query, at most ``UNREAD_SHOWN`` counted each."""
    if not user.is_member or not threads:
        return {}
    ids = list(dict.fromkeys(t.id for t in threads))
    found: dict[int, list[int]] = {}
    for start in range(0, len(ids), unions.MAX_ROWS):
        statement = _FIRST_UNREAD.statement(ids[start:start + unions.MAX_ROWS], viewer=user.id,
                                            since=user.created_at, pending=False, cap=UNREAD_SHOWN + 1)
        for thread_id, post_id in db.session.execute(statement):
            found.setdefault(thread_id, []).append(post_id)
    return {thread_id: Unread(min(len(posts), UNREAD_SHOWN), min(posts), len(posts) > UNREAD_SHOWN)
            for thread_id, posts in found.items()}


def first_unread_post_id(user: Viewer, thread: Thread) -> int | None:
    found = counts(user, [thread]).get(thread.id)
    return found.first_post_id if found else None


def mark_read_up_to(user: Viewer, thread: Thread, post_id: int | None) -> None:
    """The thread page's own POST (static/js/forum.js, or its button without JavaScript) says
    which posts it showed: the read mark moves up to ``post_id``, never past this thread's
    posts. Showing a page writes nothing (issue 15, point 11 e: no GET changes state)."""
    if not user.is_member or not post_id:
        return
    newest = db.session.scalar(select(func.max(Post.id)).where(Post.thread_id == thread.id, Post.id <= post_id))
    if newest is not None:
        record_read(user, thread, [newest])


def record_read(user: Viewer, thread: Thread, post_ids: list[int]) -> None:
    """The member has seen these posts of the thread: the read mark only moves forward; the
    thread's notifications count as read too. Written on its own connection, so the objects
    in the session stay loaded."""
    if not user.is_member or not post_ids:
        return
    newest = max(post_ids)
    # Reading again what was read before is the common case: two cheap reads instead of a
    # write transaction on every page's POST (writes serialise, above all on SQLite).
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

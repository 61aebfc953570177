"""In-app notifications: who hears about a new post or thread, mail settings, the list.

``on_reply`` and ``on_new_thread`` run inside the posting service's transaction. They read
the watchers with one query, check the candidates with ``forum.permissions`` (memberships
come with the people in one more query) and insert every notification in one statement:
no mail is sent in the request; ``forum.services.mailer`` does that later."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import joinedload, selectinload

from forum import permissions
from forum.extensions import db
from forum.models import Notification, NotificationSetting, Post, Thread, User, utcnow
from forum.permissions import Viewer
from forum.rendering import render
from forum.services import mentions, watching

# -- mail settings per category ------------------------------------------------------------

IMMEDIATE, DAILY, WEEKLY, NEVER = "immediate", "daily", "weekly", "never"
MODES = (IMMEDIATE, DAILY, WEEKLY, NEVER)
MODE_LABELS = {IMMEDIATE: _l("Sofort"), DAILY: _l("Tägliche Zusammenfassung"),
               WEEKLY: _l("Wöchentliche Zusammenfassung"), NEVER: _l("Nie")}
CATEGORIES = {
    "reply": _l("Antworten auf meine Themen und Beiträge"),
    "mention": _l("Erwähnungen (@Benutzername)"),
    "watched": _l("Neue Beiträge in beobachteten Themen"),
    "new_thread": _l("Neue Themen in beobachteten Brettern und Clustern"),
    "reaction": _l("Reaktionen auf meine Beiträge"),
    "moderation": _l("Moderation und Cluster-Verwaltung"),
}
KIND_CATEGORY = {"reply": "reply", "mention": "mention", "watched_reply": "watched", "new_thread": "new_thread",
                 "reaction": "reaction"}
DEFAULT_MODES = {"reply": IMMEDIATE, "mention": IMMEDIATE}


def category_of(kind: str) -> str:
    """Every kind another module invents (report_outcome, join_request, …) is "moderation"."""
    return KIND_CATEGORY.get(kind, "moderation")


def modes_for(user_ids: list[int] | set[int]) -> dict[int, dict[str, str]]:
    """Each person's mode per category, defaults filled in, in one query."""
    result = {uid: {c: DEFAULT_MODES.get(c, DAILY) for c in CATEGORIES} for uid in user_ids}
    if user_ids:
        for uid, category, mode in db.session.execute(
                select(NotificationSetting.user_id, NotificationSetting.category, NotificationSetting.mode)
                .where(NotificationSetting.user_id.in_(list(user_ids)))):
            if category in CATEGORIES and mode in MODES:
                result[uid][category] = mode
    return result


def save_modes(user: Viewer, modes: dict[str, str]) -> None:
    for category, mode in modes.items():
        if category not in CATEGORIES or mode not in MODES:
            continue
        db.session.execute(
            watching.dialect_insert(NotificationSetting).values(user_id=user.id, category=category, mode=mode)
            .on_conflict_do_update(index_elements=["user_id", "category"], set_={"mode": mode})
        )
    db.session.commit()


# -- fan-out from the posting service --------------------------------------------------------

_PRIORITY = {"mention": 3, "reply": 2, "watched_reply": 1, "new_thread": 1}


def on_reply(post: Post) -> None:
    thread = post.thread
    author = post.author
    # the post it answers, past the depth cap too
    parent = db.session.get(Post, post.answers_id) if post.answers_id else None
    levels = watching.effective_levels(thread)
    wanted: dict[int, str] = {}

    def want(user_id: int | None, kind: str) -> None:
        if user_id is None or user_id == author.id:
            return
        if _PRIORITY[kind] > _PRIORITY.get(wanted.get(user_id, ""), 0):
            wanted[user_id] = kind

    for user_id, level in levels.items():
        if level == watching.WATCHING:
            want(user_id, "watched_reply")
    if parent is not None and not parent.is_deleted:
        want(parent.author_id, "reply")
    want(thread.author_id, "reply")
    _finish(post, thread, author, levels, wanted)


def on_new_thread(thread: Thread, post: Post) -> None:
    author = post.author
    levels = watching.board_watchers(thread.board)
    wanted = {uid: "new_thread" for uid, level in levels.items() if level == watching.WATCHING and uid != author.id}
    _finish(post, thread, author, levels, wanted)


def on_edit(post: Post, previous_markdown: str) -> None:
    """An edited post links its mentions again; only people it newly mentions are notified
    (a held post notifies nobody until it is approved, as with replies)."""
    author = post.author
    if author is None:
        return
    already = set(mentions.find(render(previous_markdown)))
    reachable, unreachable = mentions.resolve(author, post.thread, mentions.find(post.body_html))
    post.body_html = mentions.link(post.body_html, {p.username for p in reachable})
    mentions.remember_unnotified([name for name in unreachable if name not in already])
    if post.awaiting_approval:
        return
    fresh = {p.id: "mention" for p in reachable if p.username not in already}
    _insert(post, post.thread, author, watching.effective_levels(post.thread), fresh)


def _finish(post: Post, thread: Thread, author: User, levels: dict[int, str], wanted: dict[int, str]) -> None:
    reachable, unreachable = mentions.resolve(author, thread, mentions.find(post.body_html))
    for person in reachable:
        wanted[person.id] = "mention"
    post.body_html = mentions.link(post.body_html, {p.username for p in reachable})
    mentions.remember_unnotified(unreachable)
    watching.auto_watch(author.id, thread.id)
    _insert(post, thread, author, levels, wanted)


def _insert(post: Post, thread: Thread, author: User, levels: dict[int, str], wanted: dict[int, str]) -> None:
    """One notification row per wanted recipient who has not muted the thread and may see the post."""
    recipients = {uid: kind for uid, kind in wanted.items() if levels.get(uid) != watching.MUTED}
    if not recipients:
        return
    people = db.session.scalars(
        select(User).where(User.id.in_(list(recipients))).options(selectinload(User.memberships))
        .execution_options(populate_existing=True)).all()
    now = utcnow()
    cluster_id = thread.board.cluster_id
    rows = [
        {"user_id": person.id, "kind": recipients[person.id], "actor_id": author.id, "cluster_id": cluster_id,
         "thread_id": thread.id, "post_id": post.id, "data": {}, "created_at": now, "mail_state": "pending"}
        for person in people if person.is_member and permissions.can_view_post(person, post)
    ]
    if rows:
        # One Core executemany: no ORM bookkeeping for 500 watchers' rows.
        db.session.execute(insert(Notification.__table__), rows)


# -- reading and marking ------------------------------------------------------------------------

def unread_count(user: Viewer) -> int:
    """The bell: one indexed count."""
    if not user.is_member:
        return 0
    return db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def page(user: Viewer, page_number: int, per_page: int, *, unread_only: bool = False) -> tuple[list[Notification], int]:
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(db.session.scalars(query.options(joinedload(Notification.actor))
                                   .order_by(Notification.id.desc())
                                   .offset((page_number - 1) * per_page).limit(per_page)))
    return rows, total


def mark_read(user: Viewer, ids: list[int] | None = None) -> int:
    """Marks the viewer's notifications read (all of them without ``ids``); returns how many."""
    query = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        if not ids:
            return 0
        query = query.where(Notification.id.in_(ids))
    result = db.session.execute(query.values(read_at=utcnow()))
    db.session.commit()
    return result.rowcount or 0


def thread_read_statement(user: Viewer, thread_id: int):
    """Opening a thread settles its notifications (the caller executes it)."""
    return update(Notification).where(
        Notification.user_id == user.id, Notification.thread_id == thread_id, Notification.read_at.is_(None)
    ).values(read_at=utcnow())

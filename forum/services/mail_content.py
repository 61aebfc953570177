"""The mails themselves: one notification or a digest, German, plain text and HTML, with the
post text, a link and a signed one-click unsubscribe link (List-Unsubscribe headers).

What goes out is checked again at the time of sending with ``forum.permissions``: a digest
holds only what the recipient may see then."""
from __future__ import annotations

import dataclasses
import datetime as dt
from email.message import EmailMessage

from flask import current_app, render_template, request, url_for
from flask_babel import gettext as _, ngettext
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, selectinload

from forum import mail, permissions
from forum.extensions import db
from forum.models import Cluster, MailQueue, Notification, Post, Thread, User
from forum.rendering import plain_text
from forum.services import notification_text, notifications

EXCERPT = 1200


# -- unsubscribing ------------------------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="notifications-unsubscribe")


def unsubscribe_token(user_id: int, scope: str) -> str:
    """``scope`` is a category, or "daily"/"weekly" for everything a digest of that kind holds."""
    return _serializer().dumps({"u": user_id, "s": scope})


def read_token(token: str) -> tuple[User, str] | None:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    scope = data.get("s")
    if scope not in notifications.CATEGORIES and scope not in (notifications.DAILY, notifications.WEEKLY):
        return None
    user = db.session.get(User, data["u"])
    return (user, scope) if user is not None else None


def scope_label(scope: str) -> str:
    if scope == notifications.DAILY:
        return _("die tägliche Zusammenfassung")
    if scope == notifications.WEEKLY:
        return _("die wöchentliche Zusammenfassung")
    return str(notifications.CATEGORIES[scope])


def unsubscribe(user: User, scope: str) -> None:
    """Sets the category (or every category the digest holds) to "nie"."""
    if scope in notifications.CATEGORIES:
        categories = [scope]
    else:
        categories = [c for c, mode in notifications.modes_for([user.id])[user.id].items() if mode == scope]
    notifications.save_modes(user, dict.fromkeys(categories, notifications.NEVER))


# -- building messages --------------------------------------------------------------------------
# The worker builds a chunk of mails at a time from data loaded for the whole chunk in a fixed
# number of queries (``_load``), and decides visibility in Python with ``forum.permissions``
# against memberships read just then: what goes out is what the recipient may see when it is
# sent, without six queries per mail.

@dataclasses.dataclass(frozen=True)
class QueuedMail:
    """What the worker knows of one queue row, as plain values (ORM rows expire on commit)."""
    id: int
    user_id: int
    kind: str
    notification_id: int | None
    dedupe_key: str
    attempts: int
    lease_end: dt.datetime

    @classmethod
    def of(cls, row: MailQueue) -> QueuedMail:
        return cls(row.id, row.user_id, row.kind, row.notification_id, row.dedupe_key, row.attempts,
                   row.claimed_until or row.due_at)


@dataclasses.dataclass
class _Batch:
    users: dict[int, User]                   # with their memberships
    modes: dict[int, dict[str, str]]
    notifications: dict[int, Notification]   # every notification the chunk's mails are about
    digests: dict[str, list[Notification]]   # unread ones per digest key, newest first
    threads: dict[int, Thread]               # with their boards
    clusters: dict[int, Cluster]
    posts: dict[int, Post]


def _by_id(query) -> dict:
    return {item.id: item for item in db.session.scalars(query.execution_options(populate_existing=True))}


def _load(jobs: list[QueuedMail]) -> _Batch:
    """Seven queries for any number of mails: people and memberships, mail settings,
    notifications (with their actors), posts, threads with boards, clusters."""
    user_ids = {job.user_id for job in jobs}
    users = _by_id(select(User).where(User.id.in_(user_ids)).options(selectinload(User.memberships)))
    modes = notifications.modes_for(user_ids)
    own = {job.notification_id for job in jobs if job.kind == notifications.IMMEDIATE and job.notification_id}
    keys = {job.dedupe_key for job in jobs if job.kind != notifications.IMMEDIATE}
    wanted = ([Notification.id.in_(own)] if own else []) + (
        [and_(Notification.mail_key.in_(keys), Notification.read_at.is_(None))] if keys else [])
    found = list(db.session.scalars(
        select(Notification).where(or_(*wanted)).options(joinedload(Notification.actor))
        .order_by(Notification.id.desc()).execution_options(populate_existing=True))) if wanted else []
    digests: dict[str, list[Notification]] = {}
    for n in found:
        if n.mail_key in keys:
            digests.setdefault(n.mail_key, []).append(n)
    post_ids = {n.post_id for n in found if n.post_id}
    posts = _by_id(select(Post).where(Post.id.in_(post_ids))) if post_ids else {}
    # A post split off into another thread is checked against the thread it is in now.
    thread_ids = {n.thread_id for n in found if n.thread_id} | {post.thread_id for post in posts.values()}
    threads = (_by_id(select(Thread).where(Thread.id.in_(thread_ids)).options(joinedload(Thread.board)))
               if thread_ids else {})
    cluster_ids = {n.cluster_id for n in found if n.cluster_id}
    clusters = _by_id(select(Cluster).where(Cluster.id.in_(cluster_ids))) if cluster_ids else {}
    return _Batch(users, modes, {n.id: n for n in found}, digests, threads, clusters, posts)


def _context(user: User, batch: _Batch, items: list[Notification]) -> notification_text.Context:
    """``notification_text.context_for`` without queries: the same decisions, taken by the
    predicates whose query twins that function uses."""
    titles: dict[int, str] = {}
    clusters: dict[int, tuple[str, str]] = {}
    for n in items:
        thread = batch.threads.get(n.thread_id) if n.thread_id else None
        if thread is not None and permissions.can_view_thread(user, thread):
            titles[thread.id] = thread.title
        cluster = batch.clusters.get(n.cluster_id) if n.cluster_id else None
        if cluster is not None and permissions.can_see_cluster(user, cluster):
            clusters[cluster.id] = (cluster.slug, cluster.name)
    return notification_text.Context(titles, clusters)


def _excerpt(user: User, batch: _Batch, post_id: int | None) -> str | None:
    """The post's text while it is there, not hidden and readable by the recipient."""
    post = batch.posts.get(post_id) if post_id else None
    if post is None or post.deleted_at is not None or post.hidden_at is not None:
        return None
    if post.thread_id not in batch.threads or not permissions.can_view_post(user, post):
        return None
    text = plain_text(post.body_html)
    return text if len(text) <= EXCERPT else text[:EXCERPT].rsplit(" ", 1)[0] + " …"


def _absolute(path: str | None) -> str:
    """Mails need whole URLs; the mailer runs inside a request context for the site's base URL."""
    return request.url_root.rstrip("/") + (path or "/")


def _message(user: User, subject: str, template: str, scope: str, **context) -> EmailMessage:
    token = unsubscribe_token(user.id, scope)
    unsubscribe_url = url_for("notifications.unsubscribe", token=token, _external=True)
    context.update(user=user, unsubscribe_url=unsubscribe_url, scope_label=scope_label(scope),
                   settings_url=url_for("notifications.settings", _external=True))
    text = render_template(f"mail/{template}.txt", **context)
    html = render_template(f"mail/{template}.html", **context)
    return mail.build(user.email, subject, text, html, headers={
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
    })


def messages_for(jobs: list[QueuedMail]) -> dict[int, EmailMessage | None]:
    """Each queue row's mail, or None when it is no longer due (read, unsubscribed, no longer
    visible, the recipient suspended or gone)."""
    batch = _load(jobs) if jobs else None
    return {job.id: (_for_notification(job, batch) if job.kind == notifications.IMMEDIATE
                     else _for_digest(job, batch)) for job in jobs}


def _for_notification(job: QueuedMail, batch: _Batch) -> EmailMessage | None:
    n = batch.notifications.get(job.notification_id) if job.notification_id else None
    user = batch.users.get(job.user_id)
    if n is None or user is None or n.user_id != user.id or not user.is_member or n.read_at is not None:
        return None
    category = notifications.category_of(n.kind)
    if batch.modes[user.id][category] != notifications.IMMEDIATE:
        return None
    line = notification_text.present(user, [n], group=False, ctx=_context(user, batch, [n]))[0]
    if not line.available:
        return None
    excerpt = _excerpt(user, batch, n.post_id)
    subject = "[" + _("Clusterforum") + "] " + line.text.rstrip(".")
    return _message(user, subject, "notification", category, line=line, url=_absolute(line.url), excerpt=excerpt)


def _for_digest(job: QueuedMail, batch: _Batch) -> EmailMessage | None:
    user = batch.users.get(job.user_id)
    if user is None or not user.is_member:
        return None
    modes = batch.modes[user.id]
    pending = [n for n in batch.digests.get(job.dedupe_key, [])
               if n.user_id == user.id and modes[notifications.category_of(n.kind)] == job.kind]
    lines = [line for line in notification_text.present(user, pending, ctx=_context(user, batch, pending))
             if line.available]
    if not lines:
        return None
    items = [{"line": line, "url": _absolute(line.url), "excerpt": _excerpt(user, batch, line.notification.post_id)}
             for line in lines]
    total = sum(line.count for line in lines)
    if job.kind == notifications.WEEKLY:
        subject = ngettext("Ihre wöchentliche Zusammenfassung: %(num)s Neuigkeit",
                           "Ihre wöchentliche Zusammenfassung: %(num)s Neuigkeiten", total)
    else:
        subject = ngettext("Ihre tägliche Zusammenfassung: %(num)s Neuigkeit",
                           "Ihre tägliche Zusammenfassung: %(num)s Neuigkeiten", total)
    return _message(user, "[" + _("Clusterforum") + "] " + subject, "digest", job.kind, items=items, total=total,
                    weekly=job.kind == notifications.WEEKLY, list_url=_absolute(url_for("notifications.index")))

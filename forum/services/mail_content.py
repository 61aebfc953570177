"""The mails themselves: one notification or a digest, German, plain text and HTML, with the
post text, a link and a signed one-click unsubscribe link (List-Unsubscribe headers).

What goes out is checked again at the time of sending with ``forum.permissions``: a digest
holds only what the recipient may see then."""
from __future__ import annotations

from email.message import EmailMessage

from flask import current_app, render_template, request, url_for
from flask_babel import gettext as _, ngettext
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from forum import mail
from forum.extensions import db
from forum.models import MailQueue, Notification, Post, User
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
    notifications.save_modes(user, {c: notifications.NEVER for c in categories})


# -- building messages --------------------------------------------------------------------------

def _excerpts(user: User, post_ids: set[int]) -> dict[int, str]:
    """Text of the posts that are still there and readable (visibility is checked by the caller)."""
    if not post_ids:
        return {}
    posts = db.session.scalars(select(Post).where(Post.id.in_(post_ids), Post.deleted_at.is_(None),
                                                  Post.hidden_at.is_(None)))
    result = {}
    for post in posts:
        text = plain_text(post.body_html)
        result[post.id] = text if len(text) <= EXCERPT else text[:EXCERPT].rsplit(" ", 1)[0] + " …"
    return result


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


def for_notification(row: MailQueue) -> EmailMessage | None:
    """One notification's own mail, or None when it is no longer due (read, unsubscribed,
    no longer visible)."""
    n = db.session.scalar(select(Notification).where(Notification.id == row.notification_id)
                          .options(joinedload(Notification.actor)))
    user = db.session.get(User, row.user_id)
    if n is None or user is None or not user.is_member or n.read_at is not None:
        return None
    category = notifications.category_of(n.kind)
    if notifications.modes_for([user.id])[user.id][category] != notifications.IMMEDIATE:
        return None
    line = notification_text.present(user, [n], group=False)[0]
    if not line.available:
        return None
    excerpt = _excerpts(user, {n.post_id} if n.post_id else set()).get(n.post_id)
    subject = "[" + _("Clusterforum") + "] " + line.text.rstrip(".")
    return _message(user, subject, "notification", category, line=line, url=_absolute(line.url), excerpt=excerpt)


def for_digest(row: MailQueue) -> EmailMessage | None:
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_member:
        return None
    pending = list(db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.mail_key == row.dedupe_key,
                                   Notification.read_at.is_(None))
        .options(joinedload(Notification.actor)).order_by(Notification.id.desc())))
    modes = notifications.modes_for([user.id])[user.id]
    pending = [n for n in pending if modes[notifications.category_of(n.kind)] == row.kind]
    lines = [line for line in notification_text.present(user, pending) if line.available]
    if not lines:
        return None
    excerpts = _excerpts(user, {line.notification.post_id for line in lines if line.notification.post_id})
    items = [{"line": line, "url": _absolute(line.url), "excerpt": excerpts.get(line.notification.post_id)}
             for line in lines]
    total = sum(line.count for line in lines)
    if row.kind == notifications.WEEKLY:
        subject = ngettext("Ihre wöchentliche Zusammenfassung: %(num)s Neuigkeit",
                           "Ihre wöchentliche Zusammenfassung: %(num)s Neuigkeiten", total)
    else:
        subject = ngettext("Ihre tägliche Zusammenfassung: %(num)s Neuigkeit",
                           "Ihre tägliche Zusammenfassung: %(num)s Neuigkeiten", total)
    return _message(user, "[" + _("Clusterforum") + "] " + subject, "digest", row.kind, items=items, total=total,
                    weekly=row.kind == notifications.WEEKLY, list_url=_absolute(url_for("notifications.index")))

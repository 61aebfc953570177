"""Reactions on posts: "Hilfreich" and 👍 ❤️ 💡. A post's author hears about them in one
notification per post that is updated while it is unread."""
from __future__ import annotations

import dataclasses

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import delete, func, select

from forum import permissions
from forum.errors import NotAllowedError, ValidationError
from forum.extensions import db
from forum.models import Notification, Post, Reaction, User, utcnow
from forum.permissions import Viewer
from forum.services import watching

KINDS = {
    "hilfreich": ("✔", _l("Hilfreich")),
    "daumen": ("👍", _l("Daumen hoch")),
    "herz": ("❤️", _l("Herz")),
    "idee": ("💡", _l("Gute Idee")),
}


@dataclasses.dataclass
class Count:
    kind: str
    symbol: str
    label: str
    count: int = 0
    mine: bool = False
    names: list[str] = dataclasses.field(default_factory=list)


def set_reaction(user: Viewer, post: Post, kind: object, on: bool) -> None:
    permissions.ensure_visible(permissions.can_view_post(user, post))
    if kind not in KINDS:
        raise ValidationError(_("Unbekannte Reaktion."), "kind")
    if not permissions.can_react(user, post):
        raise NotAllowedError(_("Auf diesen Beitrag können Sie nicht reagieren."))
    if not on:
        db.session.execute(delete(Reaction).where(Reaction.post_id == post.id, Reaction.user_id == user.id,
                                                  Reaction.kind == kind))
        db.session.commit()
        return
    result = db.session.execute(
        watching.dialect_insert(Reaction).values(post_id=post.id, user_id=user.id, kind=kind, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["post_id", "user_id", "kind"])
    )
    if result.rowcount:
        _notify_author(user, post)
    db.session.commit()


def toggle(user: Viewer, post: Post, kind: object) -> bool:
    if kind not in KINDS:   # before the query: a NUL in it made PostgreSQL fail (found by fuzzing)
        raise ValidationError(_("Unbekannte Reaktion."), "kind")
    mine = db.session.scalar(select(Reaction.id).where(Reaction.post_id == post.id, Reaction.user_id == user.id,
                                                       Reaction.kind == kind)) is not None
    set_reaction(user, post, kind, not mine)
    return not mine


def _notify_author(user: Viewer, post: Post) -> None:
    """One unread notification per post, updated with the newest reactor and the count."""
    if post.author_id is None or post.author_id == user.id:
        return
    author = db.session.get(User, post.author_id)
    if author is None or not permissions.can_view_post(author, post):
        return
    reactors = db.session.scalar(select(func.count(func.distinct(Reaction.user_id))).where(
        Reaction.post_id == post.id, Reaction.user_id != post.author_id)) or 1
    existing = db.session.scalar(select(Notification).where(
        Notification.user_id == post.author_id, Notification.kind == "reaction", Notification.post_id == post.id,
        Notification.read_at.is_(None)))
    if existing is not None:
        existing.actor_id = user.id
        existing.data = {"count": reactors}
        existing.created_at = utcnow()
        return
    db.session.add(Notification(user_id=post.author_id, kind="reaction", actor_id=user.id,
                                cluster_id=post.thread.board.cluster_id, thread_id=post.thread_id, post_id=post.id,
                                data={"count": reactors}, created_at=utcnow()))


def summary(user: Viewer, post_ids: list[int]) -> dict[int, list[Count]]:
    """Counts, own reactions and names per post for a whole page, in one query."""
    kinds = [(kind, symbol, str(label)) for kind, (symbol, label) in KINDS.items()]  # translated once
    result = {pid: [Count(kind, symbol, label) for kind, symbol, label in kinds] for pid in post_ids}
    if not post_ids:
        return result
    rows = db.session.execute(
        select(Reaction.post_id, Reaction.kind, Reaction.user_id, User.display_name)
        .join(User, User.id == Reaction.user_id)
        .where(Reaction.post_id.in_(post_ids)).order_by(Reaction.id))
    index = {kind: i for i, kind in enumerate(KINDS)}
    for post_id, kind, user_id, name in rows:
        if kind not in index:
            continue
        entry = result[post_id][index[kind]]
        entry.count += 1
        entry.mine = entry.mine or user_id == user.id
        entry.names.append(name)
    return result

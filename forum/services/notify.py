"""Creating in-app notifications inside the caller's transaction. Nobody is notified about
their own action."""
from __future__ import annotations

from forum.extensions import db
from forum.models.notifications import Notification
from forum.permissions import Viewer


def notify(user_id: int, kind: str, actor: Viewer | None = None, *, cluster_id: int | None = None,
           thread_id: int | None = None, post_id: int | None = None, **data) -> Notification | None:
    if actor is not None and actor.id == user_id:
        return None
    row = Notification(user_id=user_id, kind=kind, actor_id=actor.id if actor is not None else None,
                       cluster_id=cluster_id, thread_id=thread_id, post_id=post_id, data=data)
    db.session.add(row)
    return row

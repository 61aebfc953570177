"""Writes the moderation log. Callers add the entry inside their own transaction, so an
action and its log row commit together or not at all. There is no update or delete."""
from __future__ import annotations

from forum.extensions import db
from forum.models.moderation import ModerationLogEntry
from forum.permissions import Viewer


def record(actor: Viewer, cluster_id: int | None, action: str, target_type: str, target_id: int | None,
           reason: str = "", **details) -> ModerationLogEntry:
    entry = ModerationLogEntry(actor_id=actor.id, cluster_id=cluster_id, action=action, target_type=target_type,
                               target_id=target_id, reason=reason or "", details=details)
    db.session.add(entry)
    return entry

"""Search. Writers only call ``enqueue``: the change and its outbox row commit together,
and one drainer brings the index up to date (see ``forum.search.service``)."""
from __future__ import annotations

from forum.extensions import db
from forum.models import SearchOutbox


def enqueue(kind: str, object_id: int) -> None:
    """Record in the current transaction that a post, thread or cluster needs re-indexing."""
    db.session.add(SearchOutbox(kind=kind, object_id=object_id))

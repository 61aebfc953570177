"""Search. Writers only call ``enqueue``: the change and its outbox row commit together,
and one drainer brings the index up to date (``forum.search.outbox``). Views, the API and
the CLI talk to ``forum.search.service``; the backend behind it can change."""
from __future__ import annotations

from forum.extensions import db
from forum.models import SearchOutbox


def init_app(app) -> None:
    from forum.search import service

    service.init_app(app)


def enqueue(kind: str, object_id: int) -> None:
    """Record in the current transaction that a post, thread or cluster needs re-indexing."""
    db.session.add(SearchOutbox(kind=kind, object_id=object_id))

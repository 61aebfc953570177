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
    """Record in the current transaction that a post, thread or cluster needs re-indexing.
    The row is also remembered in the session, so the request that wrote it can index its
    own writes at once (``service.drain_own``); everyone else's rows are the worker's."""
    row = SearchOutbox(kind=kind, object_id=object_id)
    db.session.add(row)
    db.session.info.setdefault(OWN_ROWS, []).append(row)


OWN_ROWS = "search_outbox_rows"   # key in ``Session.info``: the outbox rows this session added

"""Work that does not belong in a request, done by one worker process (``flask forum worker``).

The worker (``forum.jobs.worker``) runs, in one simple loop: a rebuild of the search index
when it is missing or broken, the search outbox drain, the mail queue
(``forum.services.mailer``) and the generic job queue of this package. A request only adds a
row — ``enqueue(kind, payload)`` in its own transaction — and a handler registered with
``@register(kind)`` does the work later::

    @jobs.register("images.thumbnail")
    def make_thumbnail(payload: dict) -> None:
        ...

Why a table in our own database rather than RQ or Dramatiq on Redis:

- no new service to install, secure, monitor and back up: SQLite on one machine and
  PostgreSQL on several keep working as they are;
- the mail queue (``mail_queue``) already proves the pattern on both databases: a lease taken
  by a conditional UPDATE, so two workers never run the same row, and retries with backoff;
- the enqueue commits in the same transaction as the data it is about: a job can neither
  run for data that was rolled back nor be lost after data that was committed (with Redis,
  the job and the data are two writes to two systems);
- the volume is small (a handful of jobs per upload or export, not thousands per second).

The table logic (claim, finish, retry) is in ``forum.jobs.queue``; the job kinds that exist
today are registered in ``forum.jobs.tasks``.
"""
from __future__ import annotations

from collections.abc import Callable

from forum.jobs.queue import enqueue

Handler = Callable[[dict], object]
_handlers: dict[str, Handler] = {}


def register(kind: str) -> Callable[[Handler], Handler]:
    """Decorator: ``handler(payload)`` runs the jobs of ``kind``; an exception retries the job
    after a backoff (``forum.jobs.queue``), its text kept in ``jobs.error``."""
    def decorate(handler: Handler) -> Handler:
        _handlers[kind] = handler
        return handler
    return decorate


def handler_for(kind: str) -> Handler | None:
    from forum.jobs import tasks  # noqa: F401 - registers the built-in kinds

    return _handlers.get(kind)


__all__ = ["enqueue", "handler_for", "register"]

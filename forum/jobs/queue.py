"""The ``jobs`` table: enqueue in the caller's transaction, claim with a lease, finish or
retry with backoff. Works alike on SQLite and PostgreSQL (see ``forum.jobs`` for why a table).

A worker claims one job at a time by a conditional UPDATE that only touches a row that is
still free (pending and due, or running with an expired lease); the row count tells whether
this worker won it, so two workers never run the same job. On PostgreSQL the candidate is
also picked with SKIP LOCKED, so concurrent workers do not queue behind one row. The queue's
own writes use a session of their own, so a handler's work in ``db.session`` is its own.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from forum.extensions import db
from forum.models import Job, utcnow

LEASE = dt.timedelta(minutes=30)       # a search rebuild at a million posts takes minutes
FIRST_RETRY = dt.timedelta(seconds=30)
MAX_RETRY = dt.timedelta(hours=1)
MAX_ATTEMPTS = 5
KEEP_DONE = dt.timedelta(days=7)       # finished jobs are kept this long, then deleted


def enqueue(kind: str, payload: dict | None = None, *, run_after: dt.datetime | None = None,
            unique: bool = False) -> Job | None:
    """Adds a job to the current transaction (``db.session``; the caller commits, together
    with the data the job is about). ``unique``: not when a job of this kind and payload is
    already waiting (e.g. one search rebuild after several imports)."""
    payload = payload or {}
    if unique:
        waiting = db.session.scalars(select(Job).where(Job.kind == kind, Job.state == "pending"))
        if any(job.payload == payload for job in waiting):
            return None
    job = Job(kind=kind, payload=payload, state="pending", attempts=0, error="", run_after=run_after or utcnow())
    db.session.add(job)
    return job


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A job as its worker runs it (a plain copy: no session needed)."""
    id: int
    kind: str
    payload: dict
    attempts: int        # including this run


def _free(now: dt.datetime):
    return or_(and_(Job.state == "pending", Job.run_after <= now),
               and_(Job.state == "running", Job.leased_until < now))   # its worker stopped


def next_due(now: dt.datetime | None = None) -> int | None:
    """The id of a job that could be claimed now (the worker's one cheap query when idle)."""
    with Session(db.engine) as session:
        return session.scalar(select(Job.id).where(_free(now or utcnow())).limit(1))


def claim(worker: str, now: dt.datetime | None = None) -> Claimed | None:
    """Leases the next due job to ``worker``; ``None`` when none is due (or another worker
    took it in the meantime)."""
    now = now or utcnow()
    with Session(db.engine) as session:
        candidate = select(Job.id).where(_free(now)).order_by(Job.run_after, Job.id).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            candidate = candidate.with_for_update(skip_locked=True)
        job_id = session.scalar(candidate)
        if job_id is None:
            return None
        won = session.execute(
            update(Job).where(Job.id == job_id, _free(now))
            .values(state="running", leased_by=worker, leased_until=now + LEASE, attempts=Job.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount == 1
        session.commit()
        if not won:
            return None
        row = session.execute(select(Job.kind, Job.payload, Job.attempts).where(Job.id == job_id)).one()
        return Claimed(job_id, row.kind, dict(row.payload or {}), row.attempts)


def backoff(attempts: int) -> dt.timedelta:
    """30 s after the first failure, then doubling, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


def finish(job: Claimed, worker: str, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    with Session(db.engine) as session:
        session.execute(update(Job).where(Job.id == job.id, Job.leased_by == worker)
                        .values(state="done", finished_at=now, leased_until=None, error=""))
        session.execute(delete(Job).where(Job.state == "done", Job.finished_at < now - KEEP_DONE))
        session.commit()


def fail(job: Claimed, worker: str, error: str, now: dt.datetime | None = None) -> str:
    """After a failed run: back to "pending" after a backoff, or "failed" for good after
    ``MAX_ATTEMPTS`` runs; the error text is kept either way. Returns the new state."""
    now = now or utcnow()
    state = "failed" if job.attempts >= MAX_ATTEMPTS else "pending"
    values: dict = {"state": state, "error": error[:4000], "leased_until": None, "leased_by": None}
    if state == "failed":
        values["finished_at"] = now
    else:
        values["run_after"] = now + backoff(job.attempts)
    with Session(db.engine) as session:
        session.execute(update(Job).where(Job.id == job.id, Job.leased_by == worker).values(**values))
        session.commit()
    return state

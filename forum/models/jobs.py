"""The generic job queue (``forum.jobs``): one row per piece of slow work a request hands to
the worker (a search rebuild today; image processing, virus scans, PDF text, exports next)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from forum.extensions import db
from forum.models.util import utcnow


class Job(db.Model):
    """``state``: "pending" (waits for ``run_after``), "running" (a worker holds it until
    ``leased_until``; an expired lease makes it claimable again), "done" or "failed" (gave up
    after ``forum.jobs.queue.MAX_ATTEMPTS``; ``error`` says why)."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    leased_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    leased_by: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_jobs_state_run_after", "state", "run_after"),)

"""The worker loop (``flask forum worker``): one process, one simple loop.

Each pass: rebuild the search index if it is missing or broken, drain the search outbox,
send the mail queue, run the due jobs. Idle, a pass costs one cheap query per queue (and,
every ``READY_CHECK`` seconds, one look at the search index). ``--once`` runs one pass (for
cron and tests); SIGTERM and SIGINT end the loop after the step that is running.
"""
from __future__ import annotations

import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable

from flask import current_app
from sqlalchemy import exists, or_, select

from forum.extensions import db
from forum.jobs import handler_for, queue
from forum.models import MailQueue, Notification, utcnow

READY_CHECK = 30.0   # seconds between two full checks that the search index opens
JOBS_PER_PASS = 100  # then the other queues get their turn


class Worker:
    def __init__(self, echo: Callable[[str], None] = print) -> None:
        self.name = f"worker-{uuid.uuid4().hex[:12]}"
        self.echo = echo
        self.stop = threading.Event()
        self._checked_index = -READY_CHECK   # monotonic time of the last full index check

    # -- one pass ------------------------------------------------------------------------
    def run_once(self) -> dict[str, int]:
        totals = {"rebuilt": 0, "indexed": 0, "mails": 0, "jobs": 0, "failed": 0}
        for step in (self._search, self._mail, self._jobs):
            if self.stop.is_set():
                break
            try:
                step(totals)
            except Exception:  # noqa: BLE001 - one queue's trouble must not stop the others
                current_app.logger.exception("Worker: Schritt %s fehlgeschlagen", step.__name__)
                db.session.rollback()
        return totals

    def _search(self, totals: dict[str, int]) -> None:
        from forum.search import service

        now = time.monotonic()
        if now - self._checked_index >= READY_CHECK:
            self._checked_index = now
            rebuilt = service.repair()
            if rebuilt is not None:
                totals["rebuilt"] = rebuilt
        try:
            totals["indexed"] = service.drain()
        except Exception:
            self._checked_index = -READY_CHECK   # look at the index again in the next pass
            raise

    def _mail(self, totals: dict[str, int]) -> None:
        from forum.services import mailer

        due = select(or_(
            exists().where(Notification.mail_state == "pending"),
            exists().where(MailQueue.status == "pending", MailQueue.due_at <= utcnow()),
        ))
        if not db.session.scalar(due):
            db.session.rollback()
            return
        result = mailer.run_once()
        totals["mails"] = result["sent"]
        if any(result.values()):
            self.echo(mailer.summary(result))

    def _jobs(self, totals: dict[str, int]) -> None:
        if queue.next_due() is None:
            return
        for _ in range(JOBS_PER_PASS):
            if self.stop.is_set():
                return
            job = queue.claim(self.name)
            if job is None:
                return
            handler = handler_for(job.kind)
            try:
                if handler is None:
                    raise LookupError(f"Unbekannte Auftragsart: {job.kind}")
                handler(job.payload)
            except Exception:  # noqa: BLE001 - kept in jobs.error, retried after a backoff
                db.session.rollback()
                state = queue.fail(job, self.name, traceback.format_exc())
                current_app.logger.warning("Auftrag %s (%s) fehlgeschlagen, Versuch %s → %s",
                                           job.id, job.kind, job.attempts, state, exc_info=True)
                totals["failed"] += 1
                continue
            db.session.commit()
            queue.finish(job, self.name)
            totals["jobs"] += 1

    # -- the loop --------------------------------------------------------------------------
    def run_forever(self, interval: float) -> None:
        """Passes every ``interval`` seconds until SIGTERM/SIGINT (or ``stop``)."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        self.echo(f"Worker {self.name} läuft (alle {interval:g} s).")
        while not self.stop.is_set():
            totals = self.run_once()
            db.session.remove()   # nothing loaded in one pass outlives it
            if totals["rebuilt"] or totals["indexed"] or totals["jobs"] or totals["failed"]:
                self.echo(summary(totals))
            self.stop.wait(interval)
        self.echo("Worker beendet.")

    def _on_signal(self, _signum, _frame) -> None:
        self.stop.set()


def summary(totals: dict[str, int]) -> str:
    return (f"Suchindex: {totals['rebuilt']} Beiträge neu aufgebaut, {totals['indexed']} Änderungen übernommen; "
            f"{totals['mails']} Mails versendet; {totals['jobs']} Aufträge erledigt, "
            f"{totals['failed']} fehlgeschlagen.")

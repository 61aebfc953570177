"""The mail queue and its worker (``flask notifications send``).

1. ``queue_pending``: notifications the worker has not looked at become queue rows: their
   own mail (mode "sofort") or a place in the recipient's next daily or weekly digest.
   ``mail_queue.dedupe_key`` is unique and rows are inserted with ON CONFLICT DO NOTHING,
   so two workers that queue the same notification create one row.
2. ``claim``: a worker takes due rows with a lease (an UPDATE that only touches unclaimed
   or expired rows; on PostgreSQL the candidates are also locked with SKIP LOCKED), so two
   workers never hold the same row.
3. ``send``: builds the batch's mails from data loaded together (a fixed number of queries
   per chunk, visibility decided by ``forum.permissions`` then), sends them over one SMTP
   connection (reopened after a failure) and commits once per mail, before its send (see
   "Why one small commit per mail" below). When SMTP fails the row (and, when the server is
   unreachable, the rest of the batch) is retried later with exponential backoff: nothing is
   lost while SMTP is down.
"""
from __future__ import annotations

import datetime as dt
import smtplib
import time
import uuid
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, func, or_, select, update

from forum import mail
from forum.extensions import db
from forum.models import MailQueue, Notification, utcnow
from forum.services import mail_content, notifications, watching

LEASE = dt.timedelta(minutes=5)
BATCH = 200
QUEUE_BATCH = 2000
FIRST_RETRY = dt.timedelta(minutes=1)
MAX_RETRY = dt.timedelta(hours=6)
DIGEST_HOUR = 7
LOCAL = ZoneInfo("Europe/Berlin")
CONNECTION_ERRORS = (OSError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected, smtplib.SMTPHeloError)


def digest_due(mode: str, now: dt.datetime) -> dt.datetime:
    """The next 07:00 in Berlin (daily) or the next Monday 07:00 (weekly), as naive UTC."""
    local = now.replace(tzinfo=dt.UTC).astimezone(LOCAL)
    due = local.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    if due <= local:
        due += dt.timedelta(days=1)
    if mode == notifications.WEEKLY:
        due += dt.timedelta(days=(7 - due.weekday()) % 7)
    return due.astimezone(dt.UTC).replace(tzinfo=None)


def queue_pending(now: dt.datetime | None = None, limit: int = QUEUE_BATCH) -> int:
    """Turns up to ``limit`` unseen notifications into queue rows; returns how many it saw."""
    now = now or utcnow()
    found = db.session.execute(
        select(Notification.id, Notification.user_id, Notification.kind)
        .where(Notification.mail_state == "pending").order_by(Notification.id).limit(limit)).all()
    if not found:
        return 0
    modes = notifications.modes_for({user_id for _id, user_id, _kind in found})
    queue: dict[str, dict] = {}
    states = []
    for notification_id, user_id, kind in found:
        mode = modes[user_id][notifications.category_of(kind)]
        if mode == notifications.IMMEDIATE:
            key = f"n:{notification_id}"
            queue[key] = {"user_id": user_id, "kind": notifications.IMMEDIATE, "dedupe_key": key,
                          "notification_id": notification_id, "due_at": now}
            states.append({"id": notification_id, "mail_state": "queued", "mail_key": key})
        elif mode in (notifications.DAILY, notifications.WEEKLY):
            due = digest_due(mode, now)
            key = f"{mode}:{user_id}:{due:%Y%m%d%H}"
            queue.setdefault(key, {"user_id": user_id, "kind": mode, "dedupe_key": key, "notification_id": None,
                                   "due_at": due})
            states.append({"id": notification_id, "mail_state": "digest", "mail_key": key})
        else:
            states.append({"id": notification_id, "mail_state": "none", "mail_key": None})
    if queue:
        rows = [{**values, "status": "pending", "attempts": 0, "last_error": "", "created_at": now}
                for values in queue.values()]
        db.session.execute(watching.dialect_insert(MailQueue).on_conflict_do_nothing(index_elements=["dedupe_key"]),
                           rows)
    db.session.execute(update(Notification), states)
    db.session.commit()
    return len(found)


def claim(worker: str, now: dt.datetime | None = None, limit: int = BATCH) -> list[MailQueue]:
    """Leases up to ``limit`` due rows to ``worker``; no other worker gets them meanwhile."""
    now = now or utcnow()
    db.session.rollback()  # start the claim in a fresh transaction
    free = or_(MailQueue.claimed_until.is_(None), MailQueue.claimed_until < now)
    due = (select(MailQueue.id).where(MailQueue.status == "pending", MailQueue.due_at <= now, free)
           .order_by(MailQueue.due_at, MailQueue.id).limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    db.session.execute(
        update(MailQueue).where(MailQueue.id.in_(due), MailQueue.status == "pending", free)
        .values(claimed_by=worker, claimed_until=now + LEASE).execution_options(synchronize_session=False))
    db.session.commit()
    return list(db.session.scalars(select(MailQueue).where(MailQueue.claimed_by == worker,
                                                           MailQueue.status == "pending").order_by(MailQueue.id)))


def _backoff(attempts: int) -> dt.timedelta:
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


# -- sending ------------------------------------------------------------------------------------
# Why one small commit per mail, written *before* its SMTP send, and no more:
#
# The send and the database cannot be one transaction, so a crash (kill -9, power cut) between
# the SMTP server accepting a mail and our commit is always possible. Were the row still
# "pending" then, the next worker would send it again once the lease ran out. So a row is
# switched to "sending" and committed before its send, by a compare-and-set UPDATE
# (only while this worker holds it and it is still pending); ``claim`` never takes a "sending"
# row, so no crash and no second worker can ever mail it again. A crash during the send
# itself leaves that one row "sending": it may not have arrived, and it is not retried,
# because it may also have arrived (``run_once`` logs such rows). SMTP trouble is no crash:
# a refused or failed send puts the row back to "pending" with a backoff, so nothing is lost
# while SMTP is down.
#
# Committing once for several mails before sending them would lose all of them in a crash;
# committing once after several sends would resend them. The outcome of the previous mail
# ("sent", "skipped") needs no commit of its own: a "sending" row is safe already, so it rides
# along with the next row's commit. That leaves one commit per mail and no query: the chunk's
# mails are built from data loaded together (``mail_content.messages_for``).

CHUNK = 100          # mails built from one load (a fixed number of queries)
FRESH = 10.0         # seconds; data older than this is loaded again before sending on
LEASE_MARGIN = dt.timedelta(seconds=30)
_queue = MailQueue.__table__
_SETTLE = (update(_queue).where(_queue.c.id == bindparam("row_id"), _queue.c.claimed_by == bindparam("owner"))
           .values(status=bindparam("new_status"), sent_at=bindparam("at"), claimed_by=None, claimed_until=None))
_RETRY = (update(_queue).where(_queue.c.id == bindparam("row_id"), _queue.c.claimed_by == bindparam("owner"))
          .values(status="pending", attempts=bindparam("tries"), due_at=bindparam("due"),
                  last_error=bindparam("error"), claimed_by=None, claimed_until=None))


class _Ledger:
    """The rows' state, written on a database connection of its own, so its commit per mail
    does not expire what the session loaded to build the mails."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.done: list[dict] = []  # outcomes not yet written; they go with the next commit
        self.connection = db.engine.connect()

    def record(self, job: mail_content.QueuedMail, status: str) -> None:
        self.done.append({"row_id": job.id, "owner": self.worker, "new_status": status, "at": utcnow()})

    def _settle(self) -> None:
        if self.done:
            self.connection.execute(_SETTLE, self.done)
            self.done = []

    def begin(self, job: mail_content.QueuedMail) -> bool:
        """Commits the earlier outcomes and takes the row to "sending"; False when it is no
        longer this worker's (the lease ran out and another worker claimed it)."""
        self._settle()
        taken = self.connection.execute(
            update(_queue).where(_queue.c.id == job.id, _queue.c.claimed_by == self.worker,
                                 _queue.c.status == "pending").values(status="sending")).rowcount == 1
        self.connection.commit()
        return taken

    def retry(self, jobs: list[mail_content.QueuedMail], error: Exception) -> None:
        """Back to "pending" after a backoff (also the row that was "sending": its send failed)."""
        now = utcnow()
        self._settle()
        self.connection.execute(_RETRY, [
            {"row_id": job.id, "owner": self.worker, "tries": job.attempts + 1,
             "due": now + _backoff(job.attempts + 1), "error": repr(error)[:500]} for job in jobs])
        self.connection.commit()

    def hand_back(self, jobs: list[mail_content.QueuedMail]) -> None:
        """The lease is nearly over: release the rest rather than risk a second sender."""
        self._settle()
        self.connection.execute(update(_queue).where(
            _queue.c.id.in_([job.id for job in jobs]), _queue.c.claimed_by == self.worker,
            _queue.c.status == "pending").values(claimed_by=None, claimed_until=None))
        self.connection.commit()

    def close(self) -> None:
        try:
            self._settle()
            self.connection.commit()
        finally:
            self.connection.close()


class _Connection:
    """One SMTP connection for a batch, opened before the first mail and again after a
    failure (``send`` closes it then); without FORUM_MAIL_SERVER the mails go to the log (forum.mail.deliver)."""

    def __init__(self) -> None:
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        config = current_app.config
        if self.smtp is None and config.get("MAIL_SERVER"):
            self.smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10)

    def send(self, message) -> None:
        if not current_app.config.get("MAIL_SERVER"):
            mail.deliver(message)
            return
        self.open()
        self.smtp.send_message(message)

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


def send(rows: list[MailQueue], worker: str) -> dict[str, int]:
    stats = {"sent": 0, "skipped": 0, "retry": 0}
    jobs = [mail_content.QueuedMail.of(row) for row in rows]
    ledger = _Ledger(worker)
    connection = _Connection()
    position = 0
    try:
        while position < len(jobs):
            chunk = jobs[position:position + CHUNK]
            messages = mail_content.messages_for(chunk)
            built = time.monotonic()
            for index, job in enumerate(chunk):
                if index and time.monotonic() - built > FRESH:
                    break  # a slow server: load what the recipients may see now before sending on
                if utcnow() >= job.lease_end - LEASE_MARGIN:
                    ledger.hand_back(jobs[position:])
                    return stats
                position += 1
                message = messages[job.id]
                if message is None:
                    ledger.record(job, "skipped")
                    stats["skipped"] += 1
                    continue
                try:
                    connection.open()  # before "sending": a server that is down costs no mail
                except CONNECTION_ERRORS as error:
                    current_app.logger.warning("SMTP nicht erreichbar, später neuer Versuch: %r", error)
                    ledger.retry(jobs[position - 1:], error)
                    stats["retry"] += len(jobs) - position + 1
                    return stats
                if not ledger.begin(job):
                    continue
                try:
                    connection.send(message)
                except (smtplib.SMTPException, OSError) as error:
                    # Refused, or the connection broke: this mail is tried again after the
                    # backoff; the next one opens a new connection (or, when the server is
                    # gone, hands the rest back for later).
                    current_app.logger.warning("Mail %s nicht versendet, später neuer Versuch: %r", job.id, error)
                    connection.close()
                    ledger.retry([job], error)
                    stats["retry"] += 1
                    continue
                ledger.record(job, "sent")
                stats["sent"] += 1
    finally:
        connection.close()
        ledger.close()
        db.session.rollback()  # the session only read; forget the rows as claimed
    return stats


def _warn_about_interrupted(now: dt.datetime) -> None:
    """Rows left "sending" by a worker that stopped mid-send are never sent again (they may
    have arrived); the log says how many, for the operator to look at."""
    unclear = db.session.scalar(select(func.count()).select_from(MailQueue).where(
        MailQueue.status == "sending", MailQueue.claimed_until < now))
    if unclear:
        current_app.logger.warning("%s Mails wurden beim Versand unterbrochen und werden nicht erneut gesendet "
                                   "(Status „sending“ in mail_queue).", unclear)


def run_once(now: dt.datetime | None = None) -> dict[str, int]:
    """Queues every unseen notification and sends everything that is due, then returns."""
    totals = {"queued": 0, "sent": 0, "skipped": 0, "retry": 0}
    base_url = current_app.config.get("BASE_URL") or (
        f"{current_app.config.get('PREFERRED_URL_SCHEME', 'http')}://"
        f"{current_app.config.get('SERVER_NAME') or 'localhost:5000'}")
    with current_app.test_request_context("/", base_url=base_url):
        _warn_about_interrupted(now or utcnow())
        while True:
            seen = queue_pending(now)
            totals["queued"] += seen
            if seen < QUEUE_BATCH:
                break
        while True:
            worker = uuid.uuid4().hex
            rows = claim(worker, now)
            if not rows:
                break
            for key, value in send(rows, worker).items():
                totals[key] += value
            if totals["retry"]:
                break  # SMTP trouble: the next run tries again after the backoff
    return totals


def run_forever(interval: float = 30.0, echo=print) -> None:
    """The worker loop; stops on Ctrl-C."""
    try:
        while True:
            totals = run_once()
            if any(totals.values()):
                echo(summary(totals))
            db.session.remove()
            time.sleep(interval)
    except KeyboardInterrupt:
        echo("Beendet.")


def summary(totals: dict[str, int]) -> str:
    return (f"{totals['queued']} Benachrichtigungen eingereiht, {totals['sent']} Mails versendet, "
            f"{totals['skipped']} übersprungen, {totals['retry']} für einen neuen Versuch zurückgestellt.")

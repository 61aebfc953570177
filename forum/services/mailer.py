"""The mail queue and its worker (``flask notifications send``).

1. ``queue_pending``: notifications the worker has not looked at become queue rows: their
   own mail (mode "sofort") or a place in the recipient's next daily or weekly digest.
   ``mail_queue.dedupe_key`` is unique and rows are inserted with ON CONFLICT DO NOTHING,
   so two workers that queue the same notification create one row.
2. ``claim``: a worker takes due rows with a lease (an UPDATE that only touches unclaimed
   or expired rows; on PostgreSQL the candidates are also locked with SKIP LOCKED), so two
   workers never hold the same row.
3. ``send``: one SMTP connection per batch; each row is marked sent right after its mail.
   When SMTP fails the row (and, when the server is unreachable, the rest of the batch) is
   retried later with exponential backoff: nothing is lost while SMTP is down.
"""
from __future__ import annotations

import datetime as dt
import smtplib
import time
import uuid
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import or_, select, update

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


def _finish(row_id: int, worker: str, **values) -> None:
    db.session.execute(update(MailQueue).where(MailQueue.id == row_id, MailQueue.claimed_by == worker)
                       .values(claimed_by=None, claimed_until=None, **values)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def _retry(row_ids: list[int], attempts: dict[int, int], worker: str, error: Exception, now: dt.datetime) -> None:
    for row_id in row_ids:
        tries = attempts[row_id] + 1
        _finish(row_id, worker, attempts=tries, due_at=now + _backoff(tries), last_error=repr(error)[:500])


class _Connection:
    """One SMTP connection for a batch, opened on first use; without FORUM_MAIL_SERVER the
    mails go to the log (forum.mail.deliver)."""

    def __init__(self) -> None:
        self.smtp: smtplib.SMTP | None = None

    def send(self, message) -> None:
        config = current_app.config
        if not config.get("MAIL_SERVER"):
            mail.deliver(message)
            return
        if self.smtp is None:
            self.smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10)
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
    attempts = {row.id: row.attempts for row in rows}
    order = [(row.id, row.kind, row.claimed_until) for row in rows]
    connection = _Connection()
    try:
        for position, (row_id, kind, lease_end) in enumerate(order):
            if utcnow() >= lease_end - dt.timedelta(seconds=30):
                # The lease is nearly over: hand the rest back rather than risk a second sender.
                for rest_id, _kind, _end in order[position:]:
                    _finish(rest_id, worker)
                break
            row = db.session.get(MailQueue, row_id)
            message = (mail_content.for_notification(row) if kind == notifications.IMMEDIATE
                       else mail_content.for_digest(row))
            if message is None:
                _finish(row_id, worker, status="skipped", sent_at=utcnow())
                stats["skipped"] += 1
                continue
            try:
                connection.send(message)
            except CONNECTION_ERRORS as error:
                current_app.logger.warning("SMTP nicht erreichbar, später neuer Versuch: %r", error)
                connection.close()
                rest = [rid for rid, _kind, _end in order[position:]]
                _retry(rest, attempts, worker, error, utcnow())
                stats["retry"] += len(rest)
                break
            except smtplib.SMTPException as error:
                current_app.logger.warning("Mail %s abgelehnt, später neuer Versuch: %r", row_id, error)
                connection.close()
                _retry([row_id], attempts, worker, error, utcnow())
                stats["retry"] += 1
                continue
            _finish(row_id, worker, status="sent", sent_at=utcnow())
            stats["sent"] += 1
    finally:
        connection.close()
    return stats


def run_once(now: dt.datetime | None = None) -> dict[str, int]:
    """Queues every unseen notification and sends everything that is due, then returns."""
    totals = {"queued": 0, "sent": 0, "skipped": 0, "retry": 0}
    base_url = current_app.config.get("BASE_URL") or (
        f"{current_app.config.get('PREFERRED_URL_SCHEME', 'http')}://{current_app.config.get('SERVER_NAME') or 'localhost:5000'}")
    with current_app.test_request_context("/", base_url=base_url):
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

"""In-app notifications, each person's mail settings and the outgoing mail queue."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.extensions import db
from forum.models.util import utcnow

if TYPE_CHECKING:
    from forum.models.accounts import User


class Notification(db.Model):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # "reply", "mention", "watched_reply", "new_thread", "reaction", "report_outcome",
    # "consent_request", "moderation", …
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Mail: "pending" until the worker looks at it, then "queued" (own mail), "digest"
    # (in the digest named by mail_key) or "none" (the recipient wants no mail for it).
    mail_state: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    mail_key: Mapped[str | None] = mapped_column(String(120))

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    __table_args__ = (
        Index("ix_notifications_user", "user_id", "id"),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        Index("ix_notifications_mail_state", "mail_state", "id"),
        Index("ix_notifications_user_mail_key", "user_id", "mail_key"),
    )


class NotificationSetting(db.Model):
    """How one person wants to be mailed about one category; no row = the default."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # "immediate", "daily", "weekly", "never"


class MailQueue(db.Model):
    """One mail to send: a single notification or a digest. ``dedupe_key`` is unique, so two
    workers that queue the same thing create one row; ``claimed_by``/``claimed_until`` is the
    lease a worker takes before sending, so only one of them sends it."""

    __tablename__ = "mail_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "immediate", "daily", "weekly"
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # "pending", "sending", "sent", "skipped"
    due_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_mail_queue_status_due", "status", "due_at"),)

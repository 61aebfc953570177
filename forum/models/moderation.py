"""The moderation log: append-only, one row per action of a manager or admin."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.extensions import db
from forum.models.util import utcnow

if TYPE_CHECKING:
    from forum.models.accounts import User


class ModerationLogEntry(db.Model):
    __tablename__ = "moderation_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # NULL: platform level (platform-wide boards, accounts, clusters themselves)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(40))         # e.g. "thread.lock", "post.hide"
    target_type: Mapped[str] = mapped_column(String(20))    # "thread", "post", "user", …
    target_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(1000), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    actor: Mapped[User | None] = relationship()

    __table_args__ = (
        Index("ix_moderation_log_cluster", "cluster_id", "id"),
        Index("ix_moderation_log_target", "target_type", "target_id"),
    )

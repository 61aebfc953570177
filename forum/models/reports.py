"""Reports of posts, and proposals to publish a best-practice thread platform-wide with the
consent of every author."""
from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.extensions import db
from forum.models.util import utcnow

if TYPE_CHECKING:
    from forum.models.accounts import User
    from forum.models.clusters import Board, Cluster
    from forum.models.threads import Post, Thread


class ReportReason(enum.StrEnum):
    SPAM = "spam"
    OFFENSIVE = "beleidigend"
    CONFIDENTIAL = "vertraulich"
    OTHER = "sonstiges"


class ReportState(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ReportAction(enum.StrEnum):
    HIDE = "hide"
    KEEP = "keep"
    CONTACT = "contact"


class Report(db.Model):
    """A member flags a post; the cluster's managers (platform-wide boards: the admins) resolve it."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    # NULL: a post on a platform-wide board
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(16))          # ReportReason
    text: Mapped[str] = mapped_column(String(1000), default="")
    state: Mapped[str] = mapped_column(String(16), default=ReportState.OPEN.value)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str | None] = mapped_column(String(16))   # ReportAction
    note: Mapped[str] = mapped_column(String(1000), default="")

    post: Mapped[Post] = relationship()
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])

    __table_args__ = (
        Index("ix_reports_cluster_state", "cluster_id", "state", "id"),
        Index("ix_reports_post", "post_id", "state"),
    )

    @property
    def is_open(self) -> bool:
        return self.state == ReportState.OPEN


class ProposalState(enum.StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    REFUSED = "refused"


class ConsentState(enum.StrEnum):
    PENDING = "pending"
    AGREED = "agreed"
    REFUSED = "refused"


class BestPracticeProposal(db.Model):
    """A manager proposes a cluster's best-practice thread for a platform-wide board. The
    posts (``post_ids``) are fixed when proposing, so each author consents to exactly what is
    copied; the copy is made only when every author agreed."""

    __tablename__ = "best_practice_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    proposer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target_board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default=ProposalState.PENDING.value)
    post_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    published_thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"))

    thread: Mapped[Thread] = relationship(foreign_keys=[thread_id])
    cluster: Mapped[Cluster] = relationship()
    proposer: Mapped[User | None] = relationship()
    target_board: Mapped[Board] = relationship()
    consents: Mapped[list[ProposalConsent]] = relationship(
        back_populates="proposal", order_by="ProposalConsent.id", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_best_practice_proposals_thread", "thread_id", "state"),)


class ProposalConsent(db.Model):
    __tablename__ = "best_practice_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("best_practice_proposals.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=ConsentState.PENDING.value)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    proposal: Mapped[BestPracticeProposal] = relationship(back_populates="consents")
    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("proposal_id", "user_id"),)

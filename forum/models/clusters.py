"""Clusters, who belongs to them, and their boards."""
from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, DateTime, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.extensions import db
from forum.models.util import utcnow

if TYPE_CHECKING:
    from forum.models.accounts import User


class MembershipRole(enum.StrEnum):
    MEMBER = "member"
    MANAGER = "manager"


class MembershipState(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # may read, may not write


class Cluster(db.Model):
    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    region: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # -- cluster management: Themenfelder (tag slugs) for the Mitmachen page; protective settings
    topics: Mapped[list] = mapped_column(JSON, default=list)
    approval_post_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0: off

    boards: Mapped[list[Board]] = relationship(
        back_populates="cluster", order_by="Board.position, Board.id"
    )

    def __repr__(self) -> str:
        return f"<Cluster {self.slug}>"


class Membership(db.Model):
    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), index=True)
    role: Mapped[MembershipRole] = mapped_column(
        Enum(MembershipRole, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=MembershipRole.MEMBER,
    )
    state: Mapped[MembershipState] = mapped_column(
        Enum(MembershipState, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=MembershipState.ACTIVE,
    )
    joined_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # -- cluster management: a suspension within the cluster (read-only), optionally until a date
    suspension_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    suspended_until: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(back_populates="memberships")
    cluster: Mapped[Cluster] = relationship()

    __table_args__ = (UniqueConstraint("user_id", "cluster_id"),)

    @property
    def is_manager(self) -> bool:
        return self.role == MembershipRole.MANAGER

    @property
    def is_active(self) -> bool:
        """May write; a suspension whose end date has passed no longer applies."""
        if self.state == MembershipState.ACTIVE:
            return True
        return self.suspended_until is not None and self.suspended_until <= utcnow()


class Board(db.Model):
    """A board of one cluster, or platform-wide when ``cluster_id`` is NULL."""

    __tablename__ = "boards"

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(160))
    slug: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # Denormalised so lists never count a big table.
    thread_count: Mapped[int] = mapped_column(Integer, default=0)
    post_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    cluster: Mapped[Cluster | None] = relationship(back_populates="boards")

    __table_args__ = (
        UniqueConstraint("cluster_id", "slug"),
        Index("ix_boards_cluster_position", "cluster_id", "position"),
    )

    @property
    def is_platform_wide(self) -> bool:
        return self.cluster_id is None

    def __repr__(self) -> str:
        return f"<Board {self.id} {self.slug}>"

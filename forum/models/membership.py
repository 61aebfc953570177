"""Joining a cluster: e-mail invitations, join requests of signed-in accounts, and the
expressions of interest left on the public "Mitmachen" page."""
from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.extensions import db
from forum.models.clusters import MembershipRole
from forum.models.util import utcnow

if TYPE_CHECKING:
    from forum.models.accounts import User
    from forum.models.clusters import Cluster


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class InvitationState(enum.StrEnum):
    OPEN = "offen"
    ACCEPTED = "angenommen"
    REVOKED = "widerrufen"
    EXPIRED = "abgelaufen"


class Invitation(db.Model):
    """One invited e-mail address. The link carries the id and ``nonce`` signed with the
    secret key; resending draws a new nonce (the old link dies), accepting or revoking
    closes the invitation for good."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[MembershipRole] = mapped_column(_enum(MembershipRole), default=MembershipRole.MEMBER)
    nonce: Mapped[str] = mapped_column(String(32))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    send_count: Mapped[int] = mapped_column(Integer, default=1)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    cluster: Mapped[Cluster] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])
    accepted_by: Mapped[User | None] = relationship(foreign_keys=[accepted_by_id])

    __table_args__ = (Index("ix_invitations_cluster", "cluster_id", "id"),)

    @property
    def state(self) -> InvitationState:
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.expires_at <= utcnow():
            return InvitationState.EXPIRED
        return InvitationState.OPEN


class RequestState(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class JoinRequest(db.Model):
    """A signed-in account asks to join a cluster; its managers decide."""

    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[RequestState] = mapped_column(_enum(RequestState), default=RequestState.OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    cluster: Mapped[Cluster] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])

    __table_args__ = (Index("ix_join_requests_cluster_state", "cluster_id", "state"),)


class InterestExpression(db.Model):
    """Left on the public page by someone without an account. ``cluster_id`` NULL: no
    cluster chosen (only admins see it then)."""

    __tablename__ = "interest_expressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(120))
    company: Mapped[str] = mapped_column(String(160), default="")
    trade: Mapped[str] = mapped_column(String(120), default="")
    region: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(254))
    topics: Mapped[list] = mapped_column(JSON, default=list)
    message: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[RequestState] = mapped_column(_enum(RequestState), default=RequestState.OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"))

    cluster: Mapped[Cluster | None] = relationship()

    __table_args__ = (Index("ix_interest_expressions_state", "state", "cluster_id"),)

"""People and how they authenticate."""
from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.extensions import db
from forum.models.util import utcnow
from forum.sealing import Sealed

if TYPE_CHECKING:
    from forum.models.clusters import Membership


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(120))
    company: Mapped[str] = mapped_column(String(160), default="")   # Betrieb
    trade: Mapped[str] = mapped_column(String(120), default="")     # Gewerk
    region: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str] = mapped_column(String(5), default="de")
    suspended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    suspension_reason: Mapped[str] = mapped_column(String(500), default="")
    # Changing it ends every session and remember-me cookie of the account.
    session_token: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Two-factor log-in (forum.services.twofactor): the TOTP secret (base32; encrypted in the
    # database, forum.sealing), when it was switched on, and the last time step accepted, so a
    # code is never accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(Sealed(255))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )  # loaded with the signed-in viewer (accounts.load_session_user), lazily for anyone else

    __table_args__ = (Index("uq_users_email_lower", func.lower(email), unique=True),)

    # -- Flask-Login ---------------------------------------------------------------------
    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.suspended_at is None

    # -- what the permission module asks ---------------------------------------------------
    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None and bool(self.totp_secret)

    @property
    def is_member(self) -> bool:
        """Signed in and not suspended: may see platform-wide boards."""
        return self.suspended_at is None

    @property
    def cluster_ids(self) -> frozenset[int]:
        """Clusters whose content this account may read."""
        return frozenset(m.cluster_id for m in self.memberships)

    @property
    def managed_cluster_ids(self) -> frozenset[int]:
        return frozenset(m.cluster_id for m in self.memberships if m.is_manager)

    @property
    def writable_cluster_ids(self) -> frozenset[int]:
        return frozenset(m.cluster_id for m in self.memberships if m.is_active)

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored.

    A token works until ``expires_at`` and only while the account's ``session_token`` is the
    one it was issued under (``generation``): whatever ends every session of an account — a new
    password, a reset, "auf allen Geräten abmelden", a suspension, switching two-factor log-in
    on or off — ends its tokens too, even where a caller forgets to delete them. ``two_factor``
    says whether the token was issued with a verified second factor; an account that must use
    two-factor log-in (a platform admin) has no use for a token issued without one.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80), default="")
    generation: Mapped[str] = mapped_column(String(32))
    two_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)

    user: Mapped[User] = relationship()

    def is_valid_for(self, user: User, now: dt.datetime) -> bool:
        return (self.expires_at > now and user.is_active
                and secrets.compare_digest(self.generation, user.session_token))


class RecoveryCode(db.Model):
    """A single-use code that replaces the authenticator app once; only its SHA-256 is stored."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

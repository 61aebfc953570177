"""Platform administration beyond creating things: editing clusters (with their Themenfelder
for the Mitmachen page), editing accounts, suspending an account platform-wide."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from forum import permissions
from forum.errors import ConflictError, NotAllowedError, ValidationError
from forum.extensions import db
from forum.models import Cluster, Membership, MembershipRole, Tag, User, utcnow
from forum.permissions import Viewer
from forum.services import accounts, modlog, validation


def _require_admin(actor: Viewer) -> None:
    permissions.ensure_visible(permissions.can_administer(actor))


def themenfeld_slugs() -> list[str]:
    return list(db.session.scalars(select(Tag.slug).where(Tag.is_themenfeld.is_(True)).order_by(Tag.position)))


def update_cluster(actor: Viewer, cluster: Cluster, values: dict) -> Cluster:
    _require_admin(actor)
    name = validation.text(values.get("name"), "name", _("Der Name"), max_length=160)
    if db.session.scalar(select(Cluster.id).where(func.lower(Cluster.name) == name.lower(), Cluster.id != cluster.id)):
        raise ConflictError(_("Einen Cluster mit diesem Namen gibt es schon."), "name")
    topics = values.get("topics") or []
    known = themenfeld_slugs()
    if not isinstance(topics, list) or any(t not in known for t in topics):
        raise ValidationError(_("Unbekanntes Themenfeld."), "topics")
    changes = {
        "name": name,
        "region": validation.text(values.get("region"), "region", _("Die Region"), max_length=120, required=False),
        "description": validation.text(values.get("description"), "description", _("Die Beschreibung"),
                                       max_length=2000, required=False, multiline=True),
        "topics": [t for t in known if t in topics],
    }
    changed = sorted(k for k, v in changes.items() if getattr(cluster, k) != v)
    for key, value in changes.items():
        setattr(cluster, key, value)
    if changed:
        modlog.record(actor, cluster.id, "cluster.edit", "cluster", cluster.id, "", fields=changed)
    db.session.commit()
    return cluster


def cluster_managers(cluster_ids: list[int]) -> dict[int, list[User]]:
    """The managers of several clusters in one query (for contact names)."""
    result: dict[int, list[User]] = {cid: [] for cid in cluster_ids}
    if not cluster_ids:
        return result
    rows = db.session.execute(
        select(Membership.cluster_id, User).join(User, User.id == Membership.user_id)
        .where(Membership.cluster_id.in_(cluster_ids), Membership.role == MembershipRole.MANAGER,
               User.suspended_at.is_(None))
        .order_by(User.display_name)
    ).all()
    for cluster_id, user in rows:
        result[cluster_id].append(user)
    return result


def update_account(actor: Viewer, user: User, values: dict) -> User:
    _require_admin(actor)
    profile = accounts._profile_values(values)
    address = validation.email(values.get("email"))
    if accounts.email_taken(address, user.id):
        raise ConflictError(_("Für diese E-Mail-Adresse gibt es schon ein Konto."), "email")
    make_admin = bool(values.get("is_admin"))
    if user.id == actor.id and not make_admin:
        raise NotAllowedError(_("Sie können sich die Admin-Rechte nicht selbst nehmen."))
    changed = sorted(k for k, v in {**profile, "email": address, "is_admin": make_admin}.items()
                     if getattr(user, k) != v)
    for key, value in profile.items():
        setattr(user, key, value)
    user.email = address
    if user.is_admin != make_admin:
        accounts.end_api_tokens(user.id)   # a token issued to a member never acts as an admin
    user.is_admin = make_admin
    if changed:
        modlog.record(actor, None, "account.edit", "user", user.id, "", fields=changed)
    db.session.commit()
    return user


def suspend_account(actor: Viewer, user: User, reason: object) -> User:
    """Platform-wide: no log-in, no API token, and every running session ends."""
    _require_admin(actor)
    if user.id == actor.id:
        raise NotAllowedError(_("Sie können sich nicht selbst sperren."))
    note = validation.text(reason, "reason", _("Der Grund"), max_length=500)
    if user.suspended_at is not None:
        raise ConflictError(_("Dieses Konto ist schon gesperrt."))
    user.suspended_at = utcnow()
    user.suspension_reason = note
    accounts.end_credentials(user)   # lifting the suspension later brings none of them back
    modlog.record(actor, None, "account.suspend", "user", user.id, note)
    db.session.commit()
    return user


def lift_account_suspension(actor: Viewer, user: User) -> User:
    _require_admin(actor)
    if user.suspended_at is None:
        raise ConflictError(_("Dieses Konto ist nicht gesperrt."))
    user.suspended_at = None
    user.suspension_reason = ""
    modlog.record(actor, None, "account.unsuspend", "user", user.id, "")
    db.session.commit()
    return user

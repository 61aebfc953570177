"""A cluster's members as its managers (and platform admins) see them: roles, removal,
suspension within the cluster, last activity. A cluster never loses its last manager."""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from forum import permissions
from forum.errors import ConflictError, NotAllowedError, ValidationError
from forum.extensions import db
from forum.models import Cluster, Membership, MembershipRole, MembershipState, User, utcnow
from forum.permissions import Viewer
from forum.services import accounts, modlog, validation
from forum.services.notify import notify

SEEN_EVERY = dt.timedelta(minutes=5)


def _last_manager_message() -> str:
    return _("Ein Cluster braucht mindestens eine Clustermanagerin oder einen Clustermanager. "
             "Ernennen Sie zuerst eine andere Person, bevor Sie diese Rolle abgeben.")


def members(actor: Viewer, cluster: Cluster) -> list[Membership]:
    permissions.ensure_visible(permissions.can_manage_members(actor, cluster.id))
    return list(db.session.scalars(
        select(Membership).where(Membership.cluster_id == cluster.id)
        .join(User, User.id == Membership.user_id).options(joinedload(Membership.user))
        .order_by(Membership.role.desc(), User.display_name, User.id)
    ))


def _membership(actor: Viewer, cluster: Cluster, user_id: int) -> Membership:
    permissions.ensure_visible(permissions.can_manage_members(actor, cluster.id))
    membership = db.session.scalar(
        select(Membership).where(Membership.cluster_id == cluster.id, Membership.user_id == user_id)
        .options(joinedload(Membership.user))
    )
    permissions.ensure_visible(membership is not None)
    return membership


def _ensure_not_last_manager(cluster: Cluster, membership: Membership) -> None:
    if not membership.is_manager:
        return
    # Locks the managers' rows (PostgreSQL), so two demotions at once cannot both pass.
    managers = list(db.session.scalars(
        select(Membership.id).where(Membership.cluster_id == cluster.id, Membership.role == MembershipRole.MANAGER)
        .with_for_update()
    ))
    if len(managers) <= 1:
        raise ConflictError(_last_manager_message(), "role")


def change_role(actor: Viewer, cluster: Cluster, user_id: int, role: object) -> Membership:
    membership = _membership(actor, cluster, user_id)
    try:
        new_role = MembershipRole(role)
    except ValueError:
        raise ValidationError(_("Die Rolle muss „member“ (Mitglied) oder „manager“ (Clustermanager:in) sein."),
                              "role") from None
    if new_role == membership.role:
        return membership
    if new_role == MembershipRole.MEMBER:
        _ensure_not_last_manager(cluster, membership)
    else:
        # a manager is never read-only in the cluster they run
        membership.state, membership.suspension_reason, membership.suspended_until = MembershipState.ACTIVE, "", None
    modlog.record(actor, cluster.id, "member.role", "user", user_id, "", before=membership.role.value,
                  after=new_role.value)
    membership.role = new_role
    accounts.end_api_tokens(user_id)   # a token never carries a role it was not issued under
    notify(user_id, "membership", actor, cluster_id=cluster.id, outcome=f"role_{new_role.value}",
           cluster_name=cluster.name, cluster_slug=cluster.slug)
    db.session.commit()
    return membership


def remove(actor: Viewer, cluster: Cluster, user_id: int, reason: object = "") -> None:
    """The membership ends; the person's posts stay, attributed to them."""
    membership = _membership(actor, cluster, user_id)
    _ensure_not_last_manager(cluster, membership)
    note = validation.text(reason, "reason", _("Der Grund"), max_length=500, required=False)
    modlog.record(actor, cluster.id, "member.remove", "user", user_id, note, role=membership.role.value)
    user = membership.user
    if membership in user.memberships:
        user.memberships.remove(membership)
    db.session.delete(membership)
    notify(user_id, "membership", actor, cluster_id=None, outcome="removed", cluster_name=cluster.name,
           cluster_slug=cluster.slug)
    db.session.commit()


def parse_until(value: object) -> dt.datetime | None:
    """An optional end date (JJJJ-MM-TT, end of that day in UTC) that lies in the future."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    elif isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(_("Bitte geben Sie das Enddatum als Datum an (TT.MM.JJJJ)."), "until") from None
    else:
        raise ValidationError(_("Bitte geben Sie das Enddatum als Datum an (TT.MM.JJJJ)."), "until")
    until = dt.datetime.combine(day, dt.time(23, 59, 59))
    if until <= utcnow():
        raise ValidationError(_("Das Enddatum muss in der Zukunft liegen."), "until")
    return until


def suspend(actor: Viewer, cluster: Cluster, user_id: int, reason: object, until: object = None) -> Membership:
    """Read-only within the cluster, with a reason and an optional end date."""
    membership = _membership(actor, cluster, user_id)
    if membership.is_manager:
        raise ConflictError(_("Clustermanager:innen können nicht gesperrt werden. Ändern Sie zuerst ihre Rolle."))
    if membership.user_id == actor.id:
        raise NotAllowedError(_("Sie können sich nicht selbst sperren."))
    note = validation.text(reason, "reason", _("Der Grund"), max_length=500)
    end = parse_until(until)
    membership.state = MembershipState.SUSPENDED
    membership.suspension_reason = note
    membership.suspended_until = end
    modlog.record(actor, cluster.id, "member.suspend", "user", user_id, note,
                  until=end.strftime("%Y-%m-%dT%H:%M:%SZ") if end else None)
    notify(user_id, "membership", actor, cluster_id=cluster.id, outcome="suspended", reason=note,
           cluster_name=cluster.name, cluster_slug=cluster.slug)
    db.session.commit()
    return membership


def lift_suspension(actor: Viewer, cluster: Cluster, user_id: int) -> Membership:
    membership = _membership(actor, cluster, user_id)
    if membership.state == MembershipState.ACTIVE:
        raise ConflictError(_("Dieses Mitglied ist nicht gesperrt."))
    membership.state = MembershipState.ACTIVE
    membership.suspension_reason = ""
    membership.suspended_until = None
    modlog.record(actor, cluster.id, "member.unsuspend", "user", user_id, "")
    notify(user_id, "membership", actor, cluster_id=cluster.id, outcome="unsuspended",
           cluster_name=cluster.name, cluster_slug=cluster.slug)
    db.session.commit()
    return membership


def touch(user: Viewer) -> None:
    """Records activity at most once per ``SEEN_EVERY`` per account: one UPDATE, no read."""
    if user.id is None:
        return
    now = utcnow()
    last = user.last_seen_at
    if last is not None and now - last < SEEN_EVERY:
        return
    db.session.execute(update(User).where(User.id == user.id).values(last_seen_at=now),
                       execution_options={"synchronize_session": False})
    db.session.commit()
    set_committed_value(user, "last_seen_at", now)

"""Joining a cluster: invitations by e-mail, join requests, and expressions of interest from
the public Mitmachen page. Every action of a manager or admin is written to the moderation
log in the same transaction."""
from __future__ import annotations

import datetime as dt
import re
import secrets
import smtplib

from flask import current_app, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from forum import mail, permissions
from forum.errors import ConflictError, NotAllowedError, ValidationError
from forum.extensions import db
from forum.models import (
    Cluster,
    InterestExpression,
    Invitation,
    InvitationState,
    JoinRequest,
    Membership,
    MembershipRole,
    RequestState,
    User,
    utcnow,
)
from forum.permissions import Viewer
from forum.rendering import has_control_characters
from forum.services import accounts, modlog, validation
from forum.services.notify import notify

INVITE_DAYS = 14
MAX_INVITES_AT_ONCE = 50


class InvalidInvitation(ValidationError):
    """A link that is broken, expired, used, revoked or replaced by a newer one."""
    status = 400
    code = "invalid_invitation"


# -- invitations ------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="cluster-invitation")


def _max_age() -> int:
    return int(current_app.config.get("INVITE_MAX_AGE") or INVITE_DAYS * 24 * 3600)


def token_for(invitation: Invitation) -> str:
    return _serializer().dumps({"i": invitation.id, "n": invitation.nonce})


def invite_url(invitation: Invitation) -> str:
    base = current_app.config.get("BASE_URL")
    token = token_for(invitation)
    if base:
        return str(base).rstrip("/") + url_for("join.invitation", token=token)
    return url_for("join.invitation", token=token, _external=True)


def _role(value: object) -> MembershipRole:
    try:
        return MembershipRole(value)   # not ``or "member"``: an explicit null or "" is no role (fuzzing)
    except ValueError:
        raise ValidationError(_("Die Rolle muss „member“ (Mitglied) oder „manager“ (Clustermanager:in) sein."),
                              "role") from None


def parse_addresses(text: object) -> list[str]:
    """One or many addresses, separated by line breaks, commas, semicolons or spaces."""
    if not isinstance(text, str):
        raise ValidationError(_("Bitte geben Sie mindestens eine E-Mail-Adresse an."), "emails")
    parts = [p for p in re.split(r"[\s,;]+", text) if p]
    if not parts:
        raise ValidationError(_("Bitte geben Sie mindestens eine E-Mail-Adresse an."), "emails")
    if len(parts) > MAX_INVITES_AT_ONCE:
        raise ValidationError(_("Bitte laden Sie höchstens %(n)s Adressen auf einmal ein.", n=MAX_INVITES_AT_ONCE),
                              "emails")
    bad = [p for p in parts if not validation.EMAIL_RE.match(p) or len(p) > 254]
    if bad:
        raise ValidationError(_("Keine gültige E-Mail-Adresse: %(bad)s", bad=", ".join(bad)), "emails")
    return list(dict.fromkeys(p.lower() for p in parts))


def invite(actor: Viewer, cluster: Cluster, emails: list[str], role: object = "member") -> list[Invitation]:
    """Creates (or renews) one invitation per address and mails each link. Addresses of
    accounts that already belong to the cluster are skipped."""
    permissions.ensure_visible(permissions.can_see_cluster(actor, cluster))
    if not permissions.can_invite(actor, cluster.id):
        raise NotAllowedError(_("Nur die Clustermanager:innen laden in diesen Cluster ein."))
    clean_role = _role(role)
    addresses = [validation.email(e).lower() for e in emails]
    members = set(db.session.scalars(
        select(func.lower(User.email)).join(Membership, Membership.user_id == User.id)
        .where(Membership.cluster_id == cluster.id, func.lower(User.email).in_(addresses))
    ))
    open_ones = {inv.email: inv for inv in db.session.scalars(
        select(Invitation).where(Invitation.cluster_id == cluster.id, Invitation.email.in_(addresses),
                                 Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None)))}
    now = utcnow()
    created = []
    for address in addresses:
        if address in members:
            continue
        invitation = open_ones.get(address)
        if invitation is None:
            invitation = Invitation(cluster_id=cluster.id, email=address, invited_by_id=actor.id, send_count=0)
            db.session.add(invitation)
        invitation.role = clean_role
        _renew(invitation, now)
        created.append(invitation)
    db.session.flush()
    for invitation in created:
        modlog.record(actor, cluster.id, "invite.create", "invitation", invitation.id, "",
                      email=invitation.email, role=invitation.role.value)
    db.session.commit()
    for invitation in created:
        send_invitation(invitation)
    return created


def _renew(invitation: Invitation, now: dt.datetime) -> None:
    invitation.nonce = secrets.token_hex(16)
    invitation.sent_at = now
    invitation.expires_at = now + dt.timedelta(seconds=_max_age())
    invitation.send_count = (invitation.send_count or 0) + 1


def send_invitation(invitation: Invitation) -> bool:
    """Mails the link; False (and a log line) when the mail server refuses."""
    cluster = invitation.cluster
    inviter = invitation.invited_by.display_name if invitation.invited_by else _("Das Clusterforum-Team")
    text = _(
        "Guten Tag,\n\n%(inviter)s lädt Sie in den Cluster „%(cluster)s“ im Clusterforum ein – den geschützten "
        "Austausch der Innovationscluster Handwerk NRW.\n\nÜber diesen Link nehmen Sie die Einladung an; wenn Sie "
        "noch kein Konto haben, legen Sie dort eines an. Der Link gilt %(days)s Tage und nur einmal:\n\n%(link)s\n\n"
        "Wenn Sie mit dieser Einladung nichts anfangen können, ignorieren Sie diese Nachricht einfach.\n\n"
        "Ihr Clusterforum", inviter=inviter, cluster=cluster.name, days=_max_age() // 86400,
        link=invite_url(invitation))
    try:
        mail.send(invitation.email, _("Einladung in den Cluster „%(cluster)s“", cluster=cluster.name), text)
    except (smtplib.SMTPException, OSError):
        current_app.logger.exception("Einladung %s konnte nicht versendet werden", invitation.id)
        return False
    return True


def _invitation_in(actor: Viewer, cluster: Cluster, invitation_id: int) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id)
    permissions.ensure_visible(invitation is not None and invitation.cluster_id == cluster.id
                               and permissions.can_invite(actor, cluster.id))
    return invitation


def resend(actor: Viewer, cluster: Cluster, invitation_id: int) -> Invitation:
    """A new link (the old one stops working) and fourteen more days."""
    invitation = _invitation_in(actor, cluster, invitation_id)
    if invitation.state == InvitationState.ACCEPTED:
        raise ConflictError(_("Diese Einladung ist schon angenommen und kann nicht erneut versendet werden."))
    if invitation.state == InvitationState.REVOKED:
        raise ConflictError(_("Diese Einladung ist widerrufen und kann nicht erneut versendet werden."))
    _renew(invitation, utcnow())
    modlog.record(actor, cluster.id, "invite.resend", "invitation", invitation.id, "", email=invitation.email)
    db.session.commit()
    send_invitation(invitation)
    return invitation


def revoke(actor: Viewer, cluster: Cluster, invitation_id: int) -> Invitation:
    invitation = _invitation_in(actor, cluster, invitation_id)
    if invitation.state == InvitationState.ACCEPTED:
        raise ConflictError(_("Diese Einladung ist schon angenommen."))
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        modlog.record(actor, cluster.id, "invite.revoke", "invitation", invitation.id, "", email=invitation.email)
    db.session.commit()
    return invitation


def invitations(actor: Viewer, cluster: Cluster) -> list[Invitation]:
    permissions.ensure_visible(permissions.can_invite(actor, cluster.id))
    return list(db.session.scalars(
        select(Invitation).where(Invitation.cluster_id == cluster.id)
        .options(joinedload(Invitation.invited_by), joinedload(Invitation.accepted_by))
        .order_by(Invitation.id.desc()).limit(500)
    ))


def invitation_for_token(token: str) -> Invitation:
    """The open invitation a link stands for, or ``InvalidInvitation`` with the reason."""
    broken = _("Dieser Einladungslink ist ungültig. Bitte prüfen Sie, ob Sie ihn vollständig kopiert haben.")
    try:
        data = _serializer().loads(token, max_age=_max_age())
    except SignatureExpired:
        raise InvalidInvitation(_("Dieser Einladungslink ist abgelaufen. Bitten Sie Ihre Clustermanagerin oder "
                                  "Ihren Clustermanager um eine neue Einladung.")) from None
    except BadSignature:
        raise InvalidInvitation(broken) from None
    if not isinstance(data, dict) or not isinstance(data.get("i"), int):
        raise InvalidInvitation(broken)
    invitation = db.session.get(Invitation, data["i"])
    if invitation is None:
        raise InvalidInvitation(broken)
    state = invitation.state
    if state == InvitationState.ACCEPTED:
        raise InvalidInvitation(_("Diese Einladung wurde schon angenommen; ein Einladungslink gilt nur einmal. "
                                  "Melden Sie sich einfach an."))
    if state == InvitationState.REVOKED:
        raise InvalidInvitation(_("Diese Einladung wurde zurückgezogen."))
    if state == InvitationState.EXPIRED:
        raise InvalidInvitation(_("Dieser Einladungslink ist abgelaufen. Bitten Sie Ihre Clustermanagerin oder "
                                  "Ihren Clustermanager um eine neue Einladung."))
    if not secrets.compare_digest(str(data.get("n")), invitation.nonce):
        raise InvalidInvitation(_("Zu dieser Einladung gibt es einen neueren Link. Bitte verwenden Sie den Link "
                                  "aus der neuesten E-Mail."))
    return invitation


def accept(user: User, token: str) -> Membership:
    """A signed-in account takes up the invitation: it joins, or a manager invitation
    raises its role."""
    invitation = invitation_for_token(token)
    if not user.is_member:
        raise NotAllowedError(_("Dieses Konto ist gesperrt."))
    if invitation.role == MembershipRole.MANAGER and user.email.strip().lower() != invitation.email.strip().lower():
        raise NotAllowedError(_("Diese Einladung als Clustermanager:in gilt nur für das Konto mit der Adresse, an die "
                                "sie ging. Bitte melden Sie sich mit diesem Konto an oder bitten Sie um eine neue "
                                "Einladung an Ihre Adresse."))
    _claim(invitation, user)
    membership = _join(user, invitation.cluster, invitation.role)
    modlog.record(user, invitation.cluster_id, "invite.accept", "invitation", invitation.id, "",
                  user_id=user.id, role=membership.role.value)
    db.session.commit()
    return membership


def register(token: str, values: dict) -> tuple[User, Membership]:
    """A new person creates an account through the link (its address is the invited one)."""
    invitation = invitation_for_token(token)
    if values.get("confirm") is not None and values.get("confirm") != values.get("password"):
        raise ValidationError(_("Die beiden Passwörter stimmen nicht überein."), "confirm")
    user = accounts.create_user(values.get("username"), invitation.email, values.get("password"),
                                display_name=values.get("display_name") or "", company=values.get("company") or "",
                                trade=values.get("trade") or "", region=values.get("region") or "", commit=False)
    db.session.flush()
    user.last_seen_at = utcnow()
    _claim(invitation, user)
    membership = _join(user, invitation.cluster, invitation.role)
    modlog.record(user, invitation.cluster_id, "invite.accept", "invitation", invitation.id, "",
                  user_id=user.id, role=membership.role.value, new_account=True)
    db.session.commit()
    return user, membership


def _claim(invitation: Invitation, user: User) -> None:
    """Marks the invitation accepted by ``user`` — once: a conditional UPDATE, so of two requests
    with the same link at the same moment only one gets the row; the other is told the link is
    used up, and nothing of its transaction (a new account neither) is committed."""
    now = utcnow()
    claimed = db.session.execute(
        update(Invitation).where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None),
                                 Invitation.revoked_at.is_(None), Invitation.expires_at > now)
        .values(accepted_at=now, accepted_by_id=user.id).execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise InvalidInvitation(_("Diese Einladung wurde schon angenommen; ein Einladungslink gilt nur einmal. "
                                  "Melden Sie sich einfach an."))
    set_committed_value(invitation, "accepted_at", now)
    set_committed_value(invitation, "accepted_by_id", user.id)


def _join(user: User, cluster: Cluster, role: MembershipRole) -> Membership:
    membership = next((m for m in user.memberships if m.cluster_id == cluster.id), None)
    if membership is None:
        membership = Membership(cluster_id=cluster.id, user_id=user.id, role=role)
        db.session.add(membership)
        user.memberships.append(membership)
    elif role == MembershipRole.MANAGER and membership.role != role:
        membership.role = role
        accounts.end_api_tokens(user.id)   # a changed role ends the account's tokens
    return membership


# -- join requests ----------------------------------------------------------------------------

def request_join(user: Viewer, cluster: Cluster, message: object = "") -> JoinRequest:
    if not permissions.can_request_join(user, cluster):
        raise ConflictError(_("Sie gehören schon zu diesem Cluster."))
    text = validation.text(message, "message", _("Die Nachricht"), max_length=2000, required=False, multiline=True)
    existing = db.session.scalar(select(JoinRequest).where(JoinRequest.cluster_id == cluster.id,
                                                           JoinRequest.user_id == user.id,
                                                           JoinRequest.state == RequestState.OPEN))
    if existing is not None:
        raise ConflictError(_("Ihre Anfrage liegt den Clustermanager:innen schon vor."))
    row = JoinRequest(cluster_id=cluster.id, user_id=user.id, message=text)
    db.session.add(row)
    db.session.commit()
    return row


def join_requests(actor: Viewer, cluster: Cluster) -> list[JoinRequest]:
    permissions.ensure_visible(permissions.can_manage_members(actor, cluster.id))
    return list(db.session.scalars(
        select(JoinRequest).where(JoinRequest.cluster_id == cluster.id, JoinRequest.state == RequestState.OPEN)
        .options(joinedload(JoinRequest.user)).order_by(JoinRequest.id)
    ))


def decide_join(actor: Viewer, cluster: Cluster, request_id: int, approve: bool) -> JoinRequest:
    row = db.session.get(JoinRequest, request_id)
    permissions.ensure_visible(row is not None and row.cluster_id == cluster.id
                               and permissions.can_manage_members(actor, cluster.id))
    if row.state != RequestState.OPEN:
        raise ConflictError(_("Über diese Anfrage ist schon entschieden."))
    row.state = RequestState.ACCEPTED if approve else RequestState.DECLINED
    row.decided_at = utcnow()
    row.decided_by_id = actor.id
    if approve:
        _join(row.user, cluster, MembershipRole.MEMBER)
    modlog.record(actor, cluster.id, "join.accept" if approve else "join.decline", "user", row.user_id, "")
    notify(row.user_id, "membership", actor, cluster_id=cluster.id,
           outcome="accepted" if approve else "declined", cluster_name=cluster.name, cluster_slug=cluster.slug)
    db.session.commit()
    return row


def open_request_cluster_ids(user: Viewer) -> set[int]:
    if user.id is None:
        return set()
    return set(db.session.scalars(select(JoinRequest.cluster_id).where(JoinRequest.user_id == user.id,
                                                                       JoinRequest.state == RequestState.OPEN)))


# -- expressions of interest (public) ---------------------------------------------------------

def express_interest(values: dict, topic_slugs: set[str]) -> InterestExpression:
    cluster = None
    slug = values.get("cluster") or ""
    if slug:
        cluster = None if has_control_characters(str(slug)) else db.session.scalar(  # NUL: PostgreSQL fails
            select(Cluster).where(Cluster.slug == slug))
        if cluster is None:
            raise ValidationError(_("Diesen Cluster gibt es nicht."), "cluster")
    topics = values.get("topics") or []
    if not isinstance(topics, list) or any(t not in topic_slugs for t in topics):
        raise ValidationError(_("Unbekanntes Themenfeld."), "topics")
    row = InterestExpression(
        cluster_id=cluster.id if cluster else None,
        name=validation.text(values.get("name"), "name", _("Der Name"), max_length=120),
        company=validation.text(values.get("company"), "company", _("Der Betrieb"), max_length=160, required=False),
        trade=validation.text(values.get("trade"), "trade", _("Das Gewerk"), max_length=120, required=False),
        region=validation.text(values.get("region"), "region", _("Die Region"), max_length=120, required=False),
        email=validation.email(values.get("email")),
        topics=list(dict.fromkeys(topics)),
        message=validation.text(values.get("message"), "message", _("Die Nachricht"), max_length=2000,
                                required=False, multiline=True),
    )
    db.session.add(row)
    db.session.commit()
    return row


def interest_queue(actor: Viewer, cluster: Cluster | None = None) -> list[InterestExpression]:
    query = (select(InterestExpression).where(InterestExpression.state == RequestState.OPEN,
                                              permissions.interest_queue_condition(actor))
             .options(joinedload(InterestExpression.cluster)).order_by(InterestExpression.id))
    if cluster is not None:
        permissions.ensure_visible(permissions.can_see_interest(actor, cluster.id))
        query = query.where(InterestExpression.cluster_id == cluster.id)
    return list(db.session.scalars(query))


def _interest(actor: Viewer, interest_id: int) -> InterestExpression:
    row = db.session.get(InterestExpression, interest_id)
    permissions.ensure_visible(row is not None and permissions.can_see_interest(actor, row.cluster_id))
    if row.state != RequestState.OPEN:
        raise ConflictError(_("Über diese Interessensbekundung ist schon entschieden."))
    return row


def accept_interest(actor: Viewer, interest_id: int, cluster: Cluster | None = None,
                    role: object = "member") -> Invitation:
    """Sends the invitation (into the chosen cluster, or the one the admin picks)."""
    row = _interest(actor, interest_id)
    target = row.cluster or cluster
    if target is None:
        raise ValidationError(_("Bitte wählen Sie den Cluster, in den eingeladen wird."), "cluster")
    if row.cluster is not None and cluster is not None and cluster.id != row.cluster_id and not actor.is_admin:
        raise ValidationError(_("Sie können nur in Ihren eigenen Cluster einladen."), "cluster")
    already = db.session.scalar(select(Membership.id).join(User, User.id == Membership.user_id).where(
        Membership.cluster_id == target.id, func.lower(User.email) == row.email.lower()))
    if already:
        raise ConflictError(_("Zu dieser E-Mail-Adresse gibt es schon ein Mitglied im Cluster."))
    row.state = RequestState.ACCEPTED
    row.decided_at = utcnow()
    row.decided_by_id = actor.id
    modlog.record(actor, target.id, "interest.accept", "interest", row.id, "", email=row.email)
    created = invite(actor, target, [row.email], role)
    row.invitation_id = created[0].id
    db.session.commit()
    return created[0]


def decline_interest(actor: Viewer, interest_id: int) -> InterestExpression:
    row = _interest(actor, interest_id)
    row.state = RequestState.DECLINED
    row.decided_at = utcnow()
    row.decided_by_id = actor.id
    modlog.record(actor, row.cluster_id, "interest.decline", "interest", row.id, "", email=row.email)
    db.session.commit()
    return row

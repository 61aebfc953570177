"""Cluster management for its managers (and platform admins): overview, members,
invitations, join requests and expressions of interest. Boards, the approval queue and slow
mode live in ``manage_boards`` on the same blueprint. Members never see these pages: 404."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import SelectField, StringField, TextAreaField

from forum import limits, permissions
from forum.auth import viewer
from forum.errors import ServiceError
from forum.extensions import db
from forum.models import Cluster, InterestExpression, Invitation, InvitationState, Membership
from forum.services import members as members_service, membership, protection, reading
from forum.web.forms import attach

bp = Blueprint("manage", __name__)

ROLE_CHOICES = [("member", _l("Mitglied")), ("manager", _l("Clustermanager:in"))]


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


class InviteForm(FlaskForm):
    emails = TextAreaField(_l("E-Mail-Adressen"))
    role = SelectField(_l("Rolle"), choices=ROLE_CHOICES)


class RoleForm(FlaskForm):
    role = SelectField(_l("Rolle"), choices=ROLE_CHOICES)


class RemoveForm(FlaskForm):
    reason = StringField(_l("Grund (optional)"))


class SuspendForm(FlaskForm):
    reason = StringField(_l("Grund"))
    until = StringField(_l("Gesperrt bis (optional)"), render_kw={"type": "date"})


_NO_ACTIVITY = {None, "static", "main.healthz", "main.readyz"}  # probes and files do not load the account


@bp.before_app_request
def _record_activity() -> None:
    """Last activity for the member lists: at most one UPDATE per account every few minutes."""
    if request.endpoint not in _NO_ACTIVITY and current_user.is_authenticated:
        members_service.touch(current_user)


def managed_cluster_or_404(slug: str) -> Cluster:
    cluster = db.session.scalar(select(Cluster).where(Cluster.slug == slug))
    permissions.ensure_visible(cluster is not None and permissions.can_manage_members(viewer(), cluster.id))
    return cluster


def _back(endpoint: str, cluster: Cluster, **values):
    return redirect(url_for(endpoint, slug=cluster.slug, **values))


def run_action(action, success: str) -> bool:
    """Runs a service call; its German refusal becomes a flash message."""
    try:
        action()
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return False
    flash(success, "success")
    return True


@bp.get("/verwaltung")
@login_required
def home():
    user = viewer()
    clusters = list(db.session.scalars(
        select(Cluster).where(Cluster.id.in_(permissions.member_managed_cluster_ids(user))).order_by(Cluster.name)))
    permissions.ensure_visible(bool(clusters) or user.is_admin)
    if len(clusters) == 1 and not user.is_admin:
        return redirect(url_for("manage.overview", slug=clusters[0].slug))
    return render_template("manage/home.html", clusters=clusters)


@bp.get("/c/<slug>/verwaltung")
@login_required
def overview(slug: str):
    cluster = managed_cluster_or_404(slug)
    user = viewer()
    counts = {
        "members": db.session.scalar(select(func.count(Membership.id)).where(Membership.cluster_id == cluster.id)),
        "invites": sum(1 for i in db.session.scalars(select(Invitation).where(
            Invitation.cluster_id == cluster.id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None)))
            if i.state == InvitationState.OPEN),
        "requests": len(membership.join_requests(user, cluster)) + len(membership.interest_queue(user, cluster)),
        "pending": protection.pending_count(cluster.id) if permissions.can_review_posts(user, cluster.id) else None,
    }
    return render_template("manage/overview.html", cluster=cluster, counts=counts)


# -- members ----------------------------------------------------------------------------------

@bp.get("/c/<slug>/verwaltung/mitglieder")
@login_required
def members(slug: str):
    cluster = managed_cluster_or_404(slug)
    return render_template("manage/members.html", cluster=cluster,
                           memberships=members_service.members(viewer(), cluster),
                           role_form=RoleForm(), remove_form=RemoveForm(), suspend_form=SuspendForm(),
                           action=ActionForm())


@bp.post("/c/<slug>/verwaltung/mitglieder/<int:user_id>/rolle")
@login_required
def member_role(slug: str, user_id: int):
    cluster = managed_cluster_or_404(slug)
    form = RoleForm()
    if form.validate_on_submit():
        run_action(lambda: members_service.change_role(viewer(), cluster, user_id, form.role.data),
             _("Die Rolle ist geändert."))
    return _back("manage.members", cluster)


@bp.post("/c/<slug>/verwaltung/mitglieder/<int:user_id>/entfernen")
@login_required
def member_remove(slug: str, user_id: int):
    cluster = managed_cluster_or_404(slug)
    form = RemoveForm()
    if form.validate_on_submit():
        run_action(lambda: members_service.remove(viewer(), cluster, user_id, form.reason.data),
             _("Die Person gehört nicht mehr zum Cluster. Ihre Beiträge bleiben erhalten."))
    return _back("manage.members", cluster)


@bp.post("/c/<slug>/verwaltung/mitglieder/<int:user_id>/sperren")
@login_required
def member_suspend(slug: str, user_id: int):
    cluster = managed_cluster_or_404(slug)
    form = SuspendForm()
    if form.validate_on_submit():
        run_action(lambda: members_service.suspend(viewer(), cluster, user_id, form.reason.data,
                                                   form.until.data or None),
             _("Das Mitglied kann in diesem Cluster jetzt nur noch lesen."))
    return _back("manage.members", cluster)


@bp.post("/c/<slug>/verwaltung/mitglieder/<int:user_id>/entsperren")
@login_required
def member_unsuspend(slug: str, user_id: int):
    cluster = managed_cluster_or_404(slug)
    if ActionForm().validate_on_submit():
        run_action(lambda: members_service.lift_suspension(viewer(), cluster, user_id), _("Die Sperre ist aufgehoben."))
    return _back("manage.members", cluster)


# -- invitations ------------------------------------------------------------------------------

@bp.route("/c/<slug>/verwaltung/einladungen", methods=["GET", "POST"])
@login_required
@limits.invitations
def invitations(slug: str):
    cluster = managed_cluster_or_404(slug)
    user = viewer()
    form = InviteForm()
    if form.validate_on_submit():
        try:
            created = membership.invite(user, cluster, membership.parse_addresses(form.emails.data), form.role.data)
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            if created:
                flash(_("%(n)s Einladung(en) verschickt.", n=len(created)), "success")
            else:
                flash(_("Alle genannten Adressen gehören schon zum Cluster."), "info")
            return _back("manage.invitations", cluster)
    status = 400 if form.errors else 200
    return render_template("manage/invitations.html", cluster=cluster, form=form, action=ActionForm(),
                           invitations=membership.invitations(user, cluster)), status


@bp.post("/c/<slug>/verwaltung/einladungen/<int:invitation_id>/erneut")
@login_required
def invitation_resend(slug: str, invitation_id: int):
    cluster = managed_cluster_or_404(slug)
    if ActionForm().validate_on_submit():
        run_action(lambda: membership.resend(viewer(), cluster, invitation_id),
             _("Die Einladung ist erneut verschickt; der alte Link gilt nicht mehr."))
    return _back("manage.invitations", cluster)


@bp.post("/c/<slug>/verwaltung/einladungen/<int:invitation_id>/widerrufen")
@login_required
def invitation_revoke(slug: str, invitation_id: int):
    cluster = managed_cluster_or_404(slug)
    if ActionForm().validate_on_submit():
        run_action(lambda: membership.revoke(viewer(), cluster, invitation_id), _("Die Einladung ist widerrufen."))
    return _back("manage.invitations", cluster)


# -- join requests and expressions of interest ------------------------------------------------

@bp.get("/c/<slug>/verwaltung/anfragen")
@login_required
def requests(slug: str):
    cluster = managed_cluster_or_404(slug)
    user = viewer()
    return render_template("manage/requests.html", cluster=cluster, action=ActionForm(),
                           topic_names={t.slug: t.name for t in reading.themenfelder()},
                           join_requests=membership.join_requests(user, cluster),
                           interests=membership.interest_queue(user, cluster))


@bp.post("/c/<slug>/verwaltung/anfragen/<int:request_id>/<any(annehmen, ablehnen):decision>")
@login_required
def request_decide(slug: str, request_id: int, decision: str):
    cluster = managed_cluster_or_404(slug)
    if ActionForm().validate_on_submit():
        approve = decision == "annehmen"
        run_action(lambda: membership.decide_join(viewer(), cluster, request_id, approve),
             _("Die Anfrage ist angenommen.") if approve else _("Die Anfrage ist abgelehnt."))
    return _back("manage.requests", cluster)


@bp.post("/c/<slug>/verwaltung/interessenten/<int:interest_id>/<any(einladen, ablehnen):decision>")
@login_required
def interest_decide(slug: str, interest_id: int, decision: str):
    cluster = managed_cluster_or_404(slug)
    user = viewer()
    row = db.session.get(InterestExpression, interest_id)
    permissions.ensure_visible(row is not None and row.cluster_id == cluster.id)
    if ActionForm().validate_on_submit():
        if decision == "einladen":
            run_action(lambda: membership.accept_interest(user, interest_id, cluster),
                 _("Die Einladung ist verschickt."))
        else:
            run_action(lambda: membership.decline_interest(user, interest_id),
                       _("Die Interessensbekundung ist abgelehnt."))
    return _back("manage.requests", cluster)


from forum.web import manage_boards  # noqa: E402,F401  (registers the board and protection pages on bp)

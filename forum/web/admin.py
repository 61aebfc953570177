"""Platform administration: accounts (with platform-wide suspension), clusters, the
platform-wide boards and the expressions of interest from the Mitmachen page. The members,
invitations and boards of one cluster are managed on its own pages (``forum/web/manage.py``),
which admins may use too."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)

from forum import permissions
from forum.auth import viewer
from forum.errors import ServiceError, ValidationError
from forum.extensions import db
from forum.models import Cluster, Membership, MembershipRole, User
from forum.services import accounts, clusters, membership, platform, reading
from forum.web import manage_boards
from forum.web.forms import BusinessProfileForm, attach
from forum.web.manage import ActionForm, run_action

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE = 50


class AccountForm(BusinessProfileForm):
    username = StringField(_l("Benutzername"))
    email = EmailField(_l("E-Mail-Adresse"))
    password = PasswordField(_l("Erstes Passwort"))
    is_admin = BooleanField(_l("Plattform-Admin"))


class ClusterForm(FlaskForm):
    name = StringField(_l("Name"))
    region = StringField(_l("Region"))
    description = TextAreaField(_l("Beschreibung"))


class MemberForm(FlaskForm):
    username = StringField(_l("Benutzername"))
    role = SelectField(_l("Rolle"), choices=[("member", _l("Mitglied")), ("manager", _l("Clustermanager:in"))])


@bp.before_request
@login_required
def require_admin():
    permissions.ensure_visible(permissions.can_administer(viewer()))


@bp.route("/konten", methods=["GET", "POST"])
def users():
    form = AccountForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(form.username.data, form.email.data, form.password.data,
                                        display_name=form.display_name.data, company=form.company.data,
                                        trade=form.trade.data, region=form.region.data, is_admin=form.is_admin.data)
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Das Konto „%(name)s“ ist angelegt.", name=user.username), "success")
            return redirect(url_for("admin.users"))
    query = request.args.get("q", "").strip()
    after = request.args.get("nach", "")
    stmt = select(User).order_by(User.username).limit(PAGE + 1)
    if query:
        pattern = f"%{query.lower()}%"
        stmt = stmt.where(or_(func.lower(User.username).like(pattern), func.lower(User.display_name).like(pattern),
                              func.lower(User.email).like(pattern), func.lower(User.company).like(pattern)))
    if after:
        stmt = stmt.where(User.username > after)
    rows = list(db.session.scalars(stmt))
    more = len(rows) > PAGE
    return render_template("admin/users.html", users=rows[:PAGE], form=form, query=query,
                           next_after=rows[PAGE - 1].username if more else None)


@bp.route("/cluster", methods=["GET", "POST"])
def cluster_list():
    form = ClusterForm()
    if form.validate_on_submit():
        try:
            cluster = clusters.create_cluster(viewer(), form.name.data, form.description.data, form.region.data)
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Der Cluster „%(name)s“ ist angelegt.", name=cluster.name), "success")
            return redirect(url_for("admin.cluster_detail", slug=cluster.slug))
    rows = list(db.session.scalars(select(Cluster).order_by(Cluster.name)))
    return render_template("admin/clusters.html", clusters=rows, form=form)


@bp.route("/cluster/<slug>", methods=["GET", "POST"])
def cluster_detail(slug: str):
    cluster = db.session.scalar(select(Cluster).where(Cluster.slug == slug))
    permissions.ensure_visible(cluster is not None)
    form = MemberForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == (form.username.data or "").strip().lower()))
        try:
            if user is None:
                raise ValidationError(_("Ein Konto mit diesem Benutzernamen gibt es nicht."), "username")
            clusters.add_member(viewer(), cluster, user, MembershipRole(form.role.data))
        except (ServiceError, ValueError) as error:
            db.session.rollback()
            attach(form, error if isinstance(error, ServiceError) else ValidationError(_("Unbekannte Rolle."), "role"))
        else:
            flash(_("%(name)s gehört jetzt zum Cluster.", name=user.display_name), "success")
            return redirect(url_for("admin.cluster_detail", slug=cluster.slug))
    return render_template("admin/cluster.html", cluster=cluster, form=form,
                           memberships=reading.cluster_members(cluster))


# -- account detail, platform-wide suspension --------------------------------------------------

class AccountEditForm(BusinessProfileForm):
    email = EmailField(_l("E-Mail-Adresse"))
    is_admin = BooleanField(_l("Plattform-Admin"))


class SuspendAccountForm(FlaskForm):
    reason = StringField(_l("Grund"))


def _account_or_404(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username.lower()))
    permissions.ensure_visible(user is not None)
    return user


@bp.route("/konten/<username>", methods=["GET", "POST"])
def user_detail(username: str):
    account = _account_or_404(username)
    form = AccountEditForm(obj=account)
    if form.validate_on_submit():
        try:
            platform.update_account(viewer(), account, {name: getattr(form, name).data for name in
                                                        ("email", "display_name", "company", "trade", "region",
                                                         "is_admin")})
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Das Konto ist gespeichert."), "success")
            return redirect(url_for("admin.user_detail", username=account.username))
    memberships = db.session.scalars(select(Membership).where(Membership.user_id == account.id)
                                     .options(joinedload(Membership.cluster))).all()
    status = 400 if form.errors else 200
    return render_template("admin/user.html", account=account, form=form, memberships=memberships,
                           suspend_form=SuspendAccountForm(), action=ActionForm()), status


@bp.post("/konten/<username>/<any(sperren, entsperren):change>")
def user_suspend(username: str, change: str):
    account = _account_or_404(username)
    form = SuspendAccountForm()
    if form.validate_on_submit():
        if change == "sperren":
            run_action(lambda: platform.suspend_account(viewer(), account, form.reason.data),
                 _("Das Konto ist gesperrt; alle Sitzungen sind beendet."))
        else:
            run_action(lambda: platform.lift_account_suspension(viewer(), account), _("Die Sperre ist aufgehoben."))
    return redirect(url_for("admin.user_detail", username=account.username))


# -- editing a cluster ---------------------------------------------------------------------------

class ClusterEditForm(ClusterForm):
    topics = SelectMultipleField(_l("Themenfelder des Clusters"), choices=[], validate_choice=False,
                                 widget=widgets.ListWidget(prefix_label=False), option_widget=widgets.CheckboxInput())


@bp.route("/cluster/<slug>/bearbeiten", methods=["GET", "POST"])
def cluster_edit(slug: str):
    cluster = db.session.scalar(select(Cluster).where(Cluster.slug == slug))
    permissions.ensure_visible(cluster is not None)
    form = ClusterEditForm(obj=cluster)
    form.topics.choices = [(t.slug, t.name) for t in reading.themenfelder()]
    if form.validate_on_submit():
        try:
            platform.update_cluster(viewer(), cluster, {"name": form.name.data, "region": form.region.data,
                                                        "description": form.description.data,
                                                        "topics": form.topics.data})
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Der Cluster ist gespeichert."), "success")
            return redirect(url_for("admin.cluster_detail", slug=cluster.slug))
    status = 400 if form.errors else 200
    return render_template("admin/cluster_edit.html", cluster=cluster, form=form), status


# -- platform-wide boards ------------------------------------------------------------------------

@bp.route("/bretter", methods=["GET", "POST"])
def boards():
    return manage_boards.board_pages(None, manage_boards.BoardForm(), "admin.", {})


@bp.route("/bretter/<int:board_id>", methods=["GET", "POST"])
def board_edit(board_id: int):
    return manage_boards.board_edit_page(None, board_id, "admin.", {})


@bp.post("/bretter/<int:board_id>/<any(hoch, runter):direction>")
def board_move(board_id: int, direction: str):
    manage_boards.board_move_action(None, board_id, "up" if direction == "hoch" else "down")
    return redirect(url_for("admin.boards"))


@bp.post("/bretter/<int:board_id>/<any(archivieren, oeffnen):change>")
def board_archive(board_id: int, change: str):
    manage_boards.board_archive_action(None, board_id, change == "archivieren")
    return redirect(url_for("admin.boards"))


# -- expressions of interest from the Mitmachen page ---------------------------------------------

class InterestInviteForm(FlaskForm):
    cluster = SelectField(_l("Cluster"), choices=[], validate_choice=False)


@bp.get("/interessenten")
def interests():
    rows = membership.interest_queue(viewer())
    form = InterestInviteForm()
    form.cluster.choices = [(c.slug, c.name) for c in db.session.scalars(select(Cluster).order_by(Cluster.name))]
    return render_template("admin/interests.html", interests=rows, form=form, action=ActionForm(),
                           topic_names={t.slug: t.name for t in reading.themenfelder()})


@bp.post("/interessenten/<int:interest_id>/<any(einladen, ablehnen):decision>")
def interest_decide(interest_id: int, decision: str):
    form = InterestInviteForm()
    if form.validate_on_submit():
        if decision == "einladen":
            target = db.session.scalar(select(Cluster).where(Cluster.slug == (form.cluster.data or "")))
            run_action(lambda: membership.accept_interest(viewer(), interest_id, target),
                       _("Die Einladung ist verschickt."))
        else:
            run_action(lambda: membership.decline_interest(viewer(), interest_id),
                 _("Die Interessensbekundung ist abgelehnt."))
    return redirect(url_for("admin.interests"))

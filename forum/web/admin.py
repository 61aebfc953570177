"""Platform administration: accounts and clusters (more arrives with moderation)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TextAreaField

from forum import permissions
from forum.auth import viewer
from forum.errors import ServiceError, ValidationError
from forum.extensions import db
from forum.models import Cluster, MembershipRole, User
from forum.services import accounts, clusters, reading
from forum.web.forms import attach

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE = 50


class AccountForm(FlaskForm):
    username = StringField(_l("Benutzername"))
    email = EmailField(_l("E-Mail-Adresse"))
    display_name = StringField(_l("Anzeigename"))
    company = StringField(_l("Betrieb"))
    trade = StringField(_l("Gewerk"))
    region = StringField(_l("Region"))
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
    return render_template("admin/cluster.html", cluster=cluster, form=form, memberships=reading.cluster_members(cluster))

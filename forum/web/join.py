"""Joining: the public Mitmachen page (clusters and an expression of interest), join
requests of signed-in accounts, and the invitation link (register or simply join)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField, widgets

from forum.auth import viewer
from forum.errors import ServiceError
from forum.extensions import db, limiter
from forum.models import Cluster
from forum.services import membership, platform, reading
from forum.web.forms import BusinessProfileForm, attach

bp = Blueprint("join", __name__)

HONEYPOT = "website"


class InterestForm(FlaskForm):
    name = StringField(_l("Ihr Name"))
    company = StringField(_l("Betrieb"))
    trade = StringField(_l("Gewerk"))
    region = StringField(_l("Region"))
    email = EmailField(_l("E-Mail-Adresse"))
    cluster = SelectField(_l("Cluster"), choices=[], validate_choice=False)
    topics = SelectMultipleField(_l("Themen, die Sie interessieren"), choices=[], validate_choice=False,
                                 widget=widgets.ListWidget(prefix_label=False), option_widget=widgets.CheckboxInput())
    message = TextAreaField(_l("Nachricht (optional)"))
    # The honeypot: hidden from people by CSS and aria-hidden; bots fill it in.
    website = StringField(_l("Webseite (bitte leer lassen)"))


class JoinRequestForm(FlaskForm):
    message = TextAreaField(_l("Nachricht an die Clustermanager:innen (optional)"))


class RegisterForm(BusinessProfileForm):
    username = StringField(_l("Benutzername"))
    password = PasswordField(_l("Passwort"))
    confirm = PasswordField(_l("Passwort wiederholen"))


class AcceptForm(FlaskForm):
    """Only the CSRF token: a signed-in account takes up the invitation."""


def _listing():
    clusters = list(db.session.scalars(select(Cluster).order_by(Cluster.name)))
    themen = reading.themenfelder()
    names = {t.slug: t.name for t in themen}
    managers = platform.cluster_managers([c.id for c in clusters])
    return clusters, themen, names, managers


@bp.route("/mitmachen", methods=["GET", "POST"])
@limiter.limit("5 per hour; 20 per day", methods=["POST"])
def mitmachen():
    clusters, themen, names, managers = _listing()
    form = InterestForm()
    form.cluster.choices = [("", _("Noch offen – beraten Sie mich"))] + [(c.slug, c.name) for c in clusters]
    form.topics.choices = [(t.slug, t.name) for t in themen]
    if request.method == "GET" and request.args.get("cluster"):
        form.cluster.data = request.args["cluster"]
    if form.validate_on_submit():
        if form.website.data:  # a bot: answer like a success, keep nothing
            flash(_("Vielen Dank! Wir melden uns bei Ihnen."), "success")
            return redirect(url_for("join.mitmachen"))
        try:
            membership.express_interest({
                "name": form.name.data, "company": form.company.data, "trade": form.trade.data,
                "region": form.region.data, "email": form.email.data, "cluster": form.cluster.data,
                "topics": form.topics.data, "message": form.message.data,
            }, set(names))
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Vielen Dank! Wir melden uns bei Ihnen."), "success")
            return redirect(url_for("join.mitmachen"))
    user = viewer()
    status = 400 if form.errors else 200
    return render_template("join/mitmachen.html", clusters=clusters, names=names, managers=managers, form=form,
                           join_form=JoinRequestForm(), requested=membership.open_request_cluster_ids(user)), status


@bp.post("/mitmachen/<slug>/anfragen")
@login_required
@limiter.limit("20 per hour")
def request_join(slug: str):
    cluster = db.session.scalar(select(Cluster).where(Cluster.slug == slug))
    if cluster is None:
        return render_template("errors/error.html", status=404,
                               message=_("Diesen Cluster gibt es nicht.")), 404
    form = JoinRequestForm()
    if form.validate_on_submit():
        try:
            membership.request_join(viewer(), cluster, form.message.data)
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            flash(_("Ihre Anfrage ist bei den Clustermanager:innen von „%(name)s“ angekommen.", name=cluster.name),
                  "success")
    return redirect(url_for("join.mitmachen"))


@bp.route("/einladung/<token>", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"])
def invitation(token: str):
    try:
        invite = membership.invitation_for_token(token)
    except ServiceError as error:
        return render_template("join/invalid.html", message=error.message), 400
    user = viewer()
    if current_user.is_authenticated:
        form = AcceptForm()
        if form.validate_on_submit():
            try:
                membership.accept(user, token)
            except ServiceError as error:
                db.session.rollback()
                flash(error.message, "error")
            else:
                flash(_("Willkommen im Cluster „%(name)s“!", name=invite.cluster.name), "success")
                return redirect(url_for("clusters.show", slug=invite.cluster.slug))
        return render_template("join/accept.html", invite=invite, form=form)
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            new_user, _membership = membership.register(token, {
                "username": form.username.data, "display_name": form.display_name.data, "company": form.company.data,
                "trade": form.trade.data, "region": form.region.data, "password": form.password.data,
                "confirm": form.confirm.data,
            })
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            login_user(new_user)
            flash(_("Willkommen im Cluster „%(name)s“, %(person)s!", name=invite.cluster.name,
                    person=new_user.display_name), "success")
            return redirect(url_for("clusters.show", slug=invite.cluster.slug))
    status = 400 if form.errors else 200
    return render_template("join/register.html", invite=invite, form=form, token=token), status

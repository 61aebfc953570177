"""Profiles, profile editing, password change."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import EmailField, PasswordField, SelectField

from forum import permissions
from forum.auth import viewer
from forum.errors import ServiceError
from forum.extensions import db
from forum.models import Membership, Post, Thread, User
from forum.services import accounts, email_change
from forum.web.forms import BusinessProfileForm, attach

bp = Blueprint("accounts", __name__)


class ProfileForm(BusinessProfileForm):
    locale = SelectField(_l("Sprache"), choices=[("de", "Deutsch"), ("en", "English")])


class EmailForm(FlaskForm):
    email = EmailField(_l("Neue E-Mail-Adresse"))
    password = PasswordField(_l("Ihr Passwort"))


class ConfirmForm(FlaskForm):
    """Only the CSRF token: a confirmation button."""


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Aktuelles Passwort"))
    password = PasswordField(_l("Neues Passwort"))
    confirm = PasswordField(_l("Neues Passwort wiederholen"))


@bp.get("/u/<username>")
@login_required
def profile(username: str):
    user = db.session.scalar(select(User).where(User.username == username))
    permissions.ensure_visible(user is not None and permissions.can_view_profile(viewer(), user))
    recent = list(db.session.scalars(
        select(Thread).join(Post, Post.thread_id == Thread.id)
        .where(Post.author_id == user.id, Post.deleted_at.is_(None), Post.hidden_at.is_(None),
               Post.awaiting_approval.is_(False),
               Thread.board_id.in_(permissions.visible_board_ids(viewer())))
        .group_by(Thread.id).order_by(db.func.max(Post.id).desc()).limit(10)
    ))
    memberships = db.session.scalars(select(Membership).where(Membership.user_id == user.id)
                                     .options(joinedload(Membership.cluster))).all()  # one query, not one per cluster
    shared = sorted((m for m in memberships if permissions.can_see_cluster(viewer(), m.cluster)),
                    key=lambda m: m.cluster.name)
    return render_template("accounts/profile.html", user=user, threads=recent, memberships=shared)


@bp.route("/konto", methods=["GET", "POST"])
@login_required
def edit_profile():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        try:
            accounts.update_profile(current_user, form.data)
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Ihr Profil ist gespeichert."), "success")
            return redirect(url_for("accounts.profile", username=current_user.username))
    return render_template("accounts/edit.html", form=form)


@bp.route("/konto/passwort", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.password.data, form.confirm.data)
        except ServiceError as error:
            attach(form, error)
        else:
            # the new session token ended the old session; sign this one in again
            login_user(current_user._get_current_object())
            flash(_("Ihr Passwort ist geändert. Andere Geräte sind jetzt abgemeldet."), "success")
            return redirect(url_for("accounts.edit_profile"))
    return render_template("accounts/password.html", form=form)


@bp.route("/konto/email", methods=["GET", "POST"])
@login_required
def change_email():
    """A new address needs the password and is confirmed from the new mailbox (issue 15, 11a)."""
    form = EmailForm()
    failed = False
    if form.validate_on_submit():
        try:
            address = email_change.request_change(
                current_user, form.email.data, form.password.data,
                lambda token: url_for("accounts.confirm_email", token=token, _external=True),
                url_for("accounts.change_password", _external=True))
        except ServiceError as error:
            attach(form, error)
            failed = True
        else:
            flash(_("Wir haben einen Bestätigungslink an %(address)s geschickt. Ihre E-Mail-Adresse ändert sich, "
                    "sobald Sie ihn öffnen und bestätigen.", address=address), "success")
            return redirect(url_for("accounts.edit_profile"))
    return render_template("accounts/email.html", form=form), 400 if failed or form.errors else 200


@bp.route("/konto/email/bestaetigen/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    """Opening the link shows a button; only its POST changes the address (a GET never writes)."""
    found = email_change.read_token(token) if len(token) < 1000 else None
    if found is None:
        flash(_("Dieser Bestätigungslink ist abgelaufen oder wurde schon verwendet."), "error")
        return redirect(url_for("accounts.change_email") if current_user.is_authenticated else url_for("auth.login"))
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            email_change.confirm(token)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            flash(_("Ihre E-Mail-Adresse ist jetzt %(address)s.", address=found[1]), "success")
        return redirect(url_for("accounts.edit_profile") if current_user.is_authenticated else url_for("auth.login"))
    return render_template("accounts/email_confirm.html", form=form, account=found[0], address=found[1])

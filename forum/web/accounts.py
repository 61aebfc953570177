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
from forum.services import accounts
from forum.web.forms import BusinessProfileForm, attach

bp = Blueprint("accounts", __name__)


class ProfileForm(BusinessProfileForm):
    email = EmailField(_l("E-Mail-Adresse"))
    locale = SelectField(_l("Sprache"), choices=[("de", "Deutsch"), ("en", "English")])


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

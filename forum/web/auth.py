"""Log-in, log-out and password reset."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from forum.errors import ServiceError
from forum.extensions import limiter
from forum.services import accounts
from forum.web.forms import attach

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    login = StringField(_l("Benutzername oder E-Mail"), validators=[DataRequired(_l("Bitte geben Sie Ihren Benutzernamen ein."))])
    password = PasswordField(_l("Passwort"), validators=[DataRequired(_l("Bitte geben Sie Ihr Passwort ein."))])
    remember = BooleanField(_l("Angemeldet bleiben"))


class ResetRequestForm(FlaskForm):
    login = StringField(_l("Benutzername oder E-Mail"), validators=[DataRequired(_l("Bitte geben Sie Ihren Benutzernamen oder Ihre E-Mail-Adresse ein."))])


class ResetForm(FlaskForm):
    password = PasswordField(_l("Neues Passwort"), validators=[Length(min=10, message=_l("Mindestens 10 Zeichen."))])
    confirm = PasswordField(_l("Neues Passwort wiederholen"),
                            validators=[EqualTo("password", message=_l("Die beiden Passwörter stimmen nicht überein."))])


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.login.data, form.password.data)
        if user is None:
            flash(_("Benutzername oder Passwort stimmen nicht – oder das Konto ist gesperrt."), "error")
        else:
            login_user(user, remember=form.remember.data)
            flash(_("Willkommen zurück, %(name)s!", name=user.display_name), "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("Sie sind abgemeldet."), "success")
    return redirect(url_for("main.index"))


@bp.route("/passwort-vergessen", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        accounts.request_password_reset(
            form.login.data, lambda token: url_for("auth.reset", token=token, _external=True)
        )
        flash(_("Wenn es ein Konto dazu gibt, ist ein Link für ein neues Passwort unterwegs. Bitte sehen Sie in Ihr Postfach."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form)


@bp.route("/passwort-neu/<token>", methods=["GET", "POST"])
def reset(token: str):
    user = accounts.user_for_reset_token(token)
    if user is None:
        flash(_("Dieser Link ist abgelaufen oder wurde schon benutzt. Bitte fordern Sie einen neuen an."), "error")
        return redirect(url_for("auth.reset_request"))
    form = ResetForm()
    if form.validate_on_submit():
        try:
            accounts.set_password(user, form.password.data)
        except ServiceError as error:
            attach(form, error)
        else:
            flash(_("Ihr neues Passwort gilt. Bitte melden Sie sich an."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, token=token)

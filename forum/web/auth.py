"""Log-in (password, then the code of the second factor if the account has one), log-out and
password reset. Failed log-ins are throttled per log-in name and per IP (services.login_throttle)."""
from __future__ import annotations

import time

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from forum import limits
from forum.auth import viewer
from forum.errors import ServiceError
from forum.extensions import db, limiter
from forum.models import User
from forum.services import accounts, login_throttle, twofactor
from forum.web.forms import attach
from forum.web.redirects import local_target

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    login = StringField(_l("Benutzername oder E-Mail"),
                        validators=[DataRequired(_l("Bitte geben Sie Ihren Benutzernamen ein."))])
    password = PasswordField(_l("Passwort"), validators=[DataRequired(_l("Bitte geben Sie Ihr Passwort ein."))])
    remember = BooleanField(_l("Angemeldet bleiben"))


class ResetRequestForm(FlaskForm):
    login = StringField(_l("Benutzername oder E-Mail"),
                        validators=[DataRequired(
                            _l("Bitte geben Sie Ihren Benutzernamen oder Ihre E-Mail-Adresse ein."))])


class ResetForm(FlaskForm):
    password = PasswordField(_l("Neues Passwort"), validators=[Length(min=10, message=_l("Mindestens 10 Zeichen."))])
    confirm = PasswordField(_l("Neues Passwort wiederholen"),
                            validators=[EqualTo("password",
                                                message=_l("Die beiden Passwörter stimmen nicht überein."))])


class SecondFactorForm(FlaskForm):
    code = StringField(_l("Bestätigungscode"), validators=[DataRequired(_l("Bitte geben Sie den Code ein."))])


PENDING = "login_pending"  # password checked, second factor outstanding
PENDING_MAX_AGE = 10 * 60
PENDING_MAX_TRIES = 5


def _safe_next(target: str | None) -> str:
    return local_target(target, url_for("main.index"))


def _throttled(form: LoginForm, wait: int):
    """The same answer for every name, existing or not: 429 and the log-in form."""
    flash(ngettext("Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie %(num)s Minute und versuchen Sie "
                   "es dann noch einmal.",
                   "Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie %(num)s Minuten und versuchen Sie "
                   "es dann noch einmal.", max(1, (wait + 59) // 60)), "error")
    return render_template("auth/login.html", form=form), 429, {"Retry-After": str(wait)}


def _complete(user: User, remember: bool, login_name: str, target: str | None):
    login_user(user, remember=remember)
    login_throttle.succeeded(login_name)
    flash(_("Willkommen zurück, %(name)s!", name=user.display_name), "success")
    return redirect(_safe_next(target))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        ip = get_remote_address()
        wait = login_throttle.retry_after(form.login.data, ip)
        if wait is not None:
            return _throttled(form, wait)
        user = accounts.authenticate(form.login.data, form.password.data)
        if user is None:
            login_throttle.failed(form.login.data, ip)
            flash(_("Benutzername oder Passwort stimmen nicht – oder das Konto ist gesperrt."), "error")
        elif user.two_factor_enabled:
            # Not signed in yet: the code comes first. The session cookie is signed, not secret;
            # the throttle's counters (not ``tries``) are what bounds guessing.
            session[PENDING] = {"user": user.id, "token": user.session_token, "remember": bool(form.remember.data),
                                "at": int(time.time()), "tries": 0, "login": login_throttle.normalise(form.login.data),
                                "next": request.args.get("next")}
            return redirect(url_for("auth.second_factor"))
        else:
            return _complete(user, form.remember.data, form.login.data, request.args.get("next"))
    return render_template("auth/login.html", form=form)


def _pending_user(pending) -> User | None:
    """The account waiting for its code: recent, unchanged (same session token) and active."""
    if not isinstance(pending, dict) or not isinstance(pending.get("user"), int):
        return None
    if time.time() - float(pending.get("at", 0)) > PENDING_MAX_AGE:
        return None
    user = db.session.get(User, pending["user"])
    if user is None or not user.is_active or not user.two_factor_enabled or user.session_token != pending.get("token"):
        return None
    return user


@bp.route("/login/bestaetigen", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def second_factor():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    pending = session.get(PENDING)
    user = _pending_user(pending)
    if user is None:
        session.pop(PENDING, None)
        if pending:
            flash(_("Die Anmeldung hat zu lange gedauert. Bitte melden Sie sich noch einmal an."), "info")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        ip = get_remote_address()
        wait = login_throttle.retry_after(pending["login"], ip)
        if wait is not None:
            session.pop(PENDING, None)
            return _throttled(LoginForm(formdata=None), wait)
        method = twofactor.verify(user, form.code.data)
        if method is not None:
            session.pop(PENDING, None)
            if method == "recovery":
                flash(_("Sie haben sich mit einem Wiederherstellungscode angemeldet; er gilt jetzt nicht mehr. "
                        "Übrig: %(count)s.", count=twofactor.remaining_recovery_codes(user)), "info")
            return _complete(user, pending.get("remember", False), pending["login"], pending.get("next"))
        login_throttle.failed(pending["login"], ip)
        tries = int(pending.get("tries", 0)) + 1
        if tries >= PENDING_MAX_TRIES:
            session.pop(PENDING, None)
            flash(_("Zu viele falsche Codes. Bitte melden Sie sich noch einmal an."), "error")
            return redirect(url_for("auth.login"))
        session[PENDING] = {**pending, "tries": tries}
        form.code.errors.append(_("Der Code stimmt nicht. Bitte geben Sie den aktuellen Code aus Ihrer App "
                                  "oder einen unbenutzten Wiederherstellungscode ein."))
    return render_template("auth/second_factor.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    accounts.end_all_sessions(viewer())
    logout_user()
    flash(_("Sie sind abgemeldet – auf allen Geräten."), "success")
    return redirect(url_for("main.index"))


@bp.route("/passwort-vergessen", methods=["GET", "POST"])
@limits.password_reset  # per IP address
@limits.password_reset_address  # per entered address, known or not
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        accounts.request_password_reset(
            form.login.data, lambda token: url_for("auth.reset", token=token, _external=True)
        )
        flash(_("Wenn es ein Konto dazu gibt, ist ein Link für ein neues Passwort unterwegs. "
                "Bitte sehen Sie in Ihr Postfach."), "success")
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

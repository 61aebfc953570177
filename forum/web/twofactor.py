"""Account settings for two-factor log-in: set-up with QR code, recovery codes, switching off;
and the rule that platform admins set it up before they do anything else."""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField

from forum.errors import ServiceError, error_response
from forum.extensions import db
from forum.services import twofactor
from forum.web.forms import attach

bp = Blueprint("twofactor", __name__)

SETUP = "totp_setup"  # the secret waiting for its first code: {"user": id, "secret": base32}
# What an admin who still has to set up two-factor log-in may reach.
OPEN_TO_ADMINS_WITHOUT = frozenset({"twofactor.setup", "twofactor.qr_code", "auth.logout", "static",
                                    "main.healthz", "main.readyz", "main.language",
                                    "api.create_token", "api.openapi_document"})  # tokens: checks of its own


class ConfirmForm(FlaskForm):
    code = StringField(_l("Code aus der App"))


class PasswordOnlyForm(FlaskForm):
    password = PasswordField(_l("Passwort"))


class DisableForm(FlaskForm):
    password = PasswordField(_l("Passwort"))
    code = StringField(_l("Code aus der App oder Wiederherstellungscode"))


@bp.before_app_request
def admins_set_up_two_factor_first():
    if request.endpoint is None or request.endpoint in OPEN_TO_ADMINS_WITHOUT or g.get("token_auth"):
        return None
    if not current_user.is_authenticated or not twofactor.needs_setup(current_user):
        return None
    message = _("Als Plattform-Admin brauchen Sie die Zwei-Faktor-Anmeldung. Bitte richten Sie sie jetzt ein – "
                "erst danach können Sie das Forum wieder nutzen.")
    if request.path.startswith("/api/"):
        # The browser session does not count for the API yet: 401, as for anybody not signed in.
        body, status = error_response(401, message, "two_factor_required")
        return body, status, {"WWW-Authenticate": 'Bearer realm="clusterforum"'}
    return redirect(url_for("twofactor.setup"))


def _pending_secret() -> str | None:
    pending = session.get(SETUP)
    if isinstance(pending, dict) and pending.get("user") == current_user.id and isinstance(pending.get("secret"), str):
        return pending["secret"]
    return None


def _show_codes(codes: list[str]):
    return render_template("accounts/two_factor_codes.html", codes=codes)


@bp.get("/konto/zwei-faktor")
@login_required
def settings():
    user = current_user._get_current_object()
    remaining = twofactor.remaining_recovery_codes(user) if user.two_factor_enabled else 0
    return render_template("accounts/two_factor.html", user=user, remaining=remaining,
                           required=twofactor.is_required(user), form=PasswordOnlyForm())


@bp.route("/konto/zwei-faktor/einrichten", methods=["GET", "POST"])
@login_required
def setup():
    user = current_user._get_current_object()
    if user.two_factor_enabled:
        flash(_("Die Zwei-Faktor-Anmeldung ist schon eingeschaltet."), "info")
        return redirect(url_for("twofactor.settings"))
    secret = _pending_secret()
    if secret is None:
        secret = twofactor.new_secret()
        session[SETUP] = {"user": user.id, "secret": secret}
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            codes = twofactor.enable(user, secret, form.code.data or "")
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            session.pop(SETUP, None)
            # The new session token ended every other session; this one goes on (with its
            # remember-me cookie, if it had one).
            remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
            login_user(user, remember=remember)
            flash(_("Die Zwei-Faktor-Anmeldung ist eingeschaltet. Andere Geräte sind jetzt abgemeldet."), "success")
            return _show_codes(codes)
    return render_template("accounts/two_factor_setup.html", form=form, secret=twofactor.grouped(secret),
                           forced=twofactor.needs_setup(user))


@bp.get("/konto/zwei-faktor/qr.svg")
@login_required
def qr_code():
    secret = _pending_secret()
    if secret is None or current_user.two_factor_enabled:
        abort(404)
    svg = twofactor.qr_svg(twofactor.provisioning_uri(current_user, secret))
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@bp.post("/konto/zwei-faktor/wiederherstellungscodes")
@login_required
def recovery_codes():
    user = current_user._get_current_object()
    if not user.two_factor_enabled:
        return redirect(url_for("twofactor.settings"))
    form = PasswordOnlyForm()
    if form.validate_on_submit():
        try:
            codes = twofactor.regenerate_recovery_codes(user, form.password.data or "")
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Neue Wiederherstellungscodes erstellt; die bisherigen gelten nicht mehr."), "success")
            return _show_codes(codes)
    return render_template("accounts/two_factor.html", user=user, remaining=twofactor.remaining_recovery_codes(user),
                           required=twofactor.is_required(user), form=form), 400


@bp.route("/konto/zwei-faktor/ausschalten", methods=["GET", "POST"])
@login_required
def disable():
    user = current_user._get_current_object()
    if not user.two_factor_enabled:
        return redirect(url_for("twofactor.settings"))
    form = DisableForm()
    if form.validate_on_submit():
        try:
            twofactor.disable(user, form.password.data or "", form.code.data or "")
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Die Zwei-Faktor-Anmeldung ist ausgeschaltet."), "success")
            return redirect(url_for("twofactor.settings"))
    return render_template("accounts/two_factor_disable.html", form=form, required=twofactor.is_required(user))

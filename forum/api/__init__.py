"""The JSON API, /api/v1 (CONTRACT.md). Token-authenticated writes skip CSRF; a browser
session may read, and writes through a session need the CSRF token like any form.

Every endpoint except ``PUBLIC_ENDPOINTS`` needs a signed-in caller: anonymous requests
get 401 before anything else is looked at, so they learn nothing about ids.
"""
from __future__ import annotations

from flask import Blueprint, Flask, abort, request
from flask_babel import gettext as _
from flask_login import current_user

from forum.auth import is_token_request
from forum.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = frozenset({"api.create_token", "api.openapi_document",
                              "api.accept_invite"})  # an invitation may create the account


@bp.before_request
def _signed_in() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return
    if is_token_request():
        abort(401, _("Das Zugangstoken ist ungültig oder abgelaufen."))
    abort(401, _("Bitte melden Sie sich an oder senden Sie ein Zugangstoken (Authorization: Bearer …)."))


@bp.before_request
def _csrf_for_sessions() -> None:
    if (request.method not in ("GET", "HEAD", "OPTIONS") and not is_token_request()
            and request.endpoint != "api.create_token"):
        if request.endpoint == "api.accept_invite" and not current_user.is_authenticated:
            return  # no session to ride on: the signed link is the credential
        csrf.protect()


def init_app(app: Flask) -> None:
    # importing the modules registers their views on bp
    from forum.api import membership, moderation, notifications, openapi, routes, search  # noqa: F401

    csrf.exempt(bp)
    app.register_blueprint(bp)

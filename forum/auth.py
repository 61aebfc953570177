"""Who is asking: Flask-Login sessions for people, bearer tokens for the API."""
from __future__ import annotations

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from forum.extensions import login_manager
from forum.permissions import Anonymous
from forum.services import accounts, twofactor


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.anonymous_user = Anonymous
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Bitte melden Sie sich an, um diese Seite zu sehen.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    login_manager.user_loader(accounts.load_session_user)
    app.before_request(_load_bearer)


def _load_bearer() -> None:
    """``Authorization: Bearer <token>`` on /api/ requests decides who is asking, whatever
    session cookie comes along (a left-over cookie must neither sign in nor, through session
    protection, sign out a token caller). An invalid token leaves the caller anonymous."""
    header = request.headers.get("Authorization", "")
    if not request.path.startswith("/api/") or not header.lower().startswith("bearer "):
        return
    token = accounts.token_for(header[7:].strip(), two_factor_required=twofactor.is_required)
    g._login_user = token.user if token is not None else login_manager.anonymous_user()
    g.token_auth = token is not None
    g.api_token_id = token.id if token is not None else None


def viewer():
    """The current viewer, never None (an ``Anonymous`` when nobody is signed in)."""
    return current_user._get_current_object()


def current_token_id() -> int | None:
    """The id of the API token this request came with (None for sessions)."""
    return g.get("api_token_id") if g.get("token_auth") else None


def is_token_request() -> bool:
    return bool(g.get("token_auth")) or request.headers.get("Authorization", "").lower().startswith("bearer ")

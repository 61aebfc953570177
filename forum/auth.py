"""Who is asking: Flask-Login sessions for people, bearer tokens for the API."""
from __future__ import annotations

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from forum.extensions import login_manager
from forum.permissions import Anonymous
from forum.services import accounts


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.anonymous_user = Anonymous
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Bitte melden Sie sich an, um diese Seite zu sehen.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    login_manager.user_loader(accounts.load_session_user)
    login_manager.request_loader(_load_bearer)


def _load_bearer(req):
    """``Authorization: Bearer <token>`` on /api/ requests."""
    header = req.headers.get("Authorization", "")
    if not req.path.startswith("/api/") or not header.lower().startswith("bearer "):
        return None
    user = accounts.user_for_token(header[7:].strip())
    if user is not None:
        g.token_auth = True
    return user


def viewer():
    """The current viewer, never None (an ``Anonymous`` when nobody is signed in)."""
    return current_user._get_current_object()


def is_token_request() -> bool:
    return bool(g.get("token_auth")) or request.headers.get("Authorization", "").lower().startswith("bearer ")

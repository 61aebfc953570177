"""The JSON API, /api/v1 (CONTRACT.md). Token-authenticated writes skip CSRF; a browser
session may read, and writes through a session need the CSRF token like any form."""
from __future__ import annotations

from flask import Blueprint, Flask, request

from forum.auth import is_token_request
from forum.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _csrf_for_sessions() -> None:
    if request.method not in ("GET", "HEAD", "OPTIONS") and not is_token_request() and request.endpoint != "api.create_token":
        csrf.protect()


def init_app(app: Flask) -> None:
    from forum.api import routes  # noqa: F401  (registers the views on bp)

    csrf.exempt(bp)
    app.register_blueprint(bp)

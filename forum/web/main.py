"""Landing page, personal start page, language switch, health check."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from forum.auth import viewer
from forum.extensions import db
from forum.search import service as search_service
from forum.services import reading
from forum.web.redirects import local_target

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    user = viewer()
    if not user.is_authenticated:
        return render_template("main/landing.html")
    return render_template(
        "main/home.html",
        clusters=reading.visible_clusters(user),
        platform_boards=reading.platform_boards(user),
        threads=reading.recent_threads(user, limit=25),
    )


@bp.post("/sprache")
def language():
    code = request.form.get("locale", "")
    if code not in current_app.config["LANGUAGES"]:
        abort(400)
    session["locale"] = code
    if current_user.is_authenticated:
        current_user.locale = code
        db.session.commit()
    return redirect(local_target(request.form.get("next"), url_for("main.index")))


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """For load balancers: 200 when the database answers and the search index opens, else 503
    with what failed and why in German (no details of the error itself). The index is missing
    or being rebuilt until the worker (``flask forum worker``) has built it."""
    checks = {"database": "ok", "search": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        checks["database"] = "unavailable"
    try:
        if not search_service.backend().ready():
            checks["search"] = "unavailable"
    except Exception:  # noqa: BLE001 - any failure of the index means "not ready"
        current_app.logger.exception("Suchindex nicht bereit")
        checks["search"] = "unavailable"
    healthy = all(value == "ok" for value in checks.values())
    if healthy:
        return {"status": "ok", **checks}, 200
    reasons = {"database": _("Die Datenbank antwortet nicht."),
               "search": _("Der Suchindex fehlt oder wird gerade vom Worker neu aufgebaut.")}
    reason = " ".join(reasons[name] for name, value in checks.items() if value != "ok")
    return {"status": "unavailable", **checks, "reason": reason}, 503

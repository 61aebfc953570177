"""The search page (/search?q=…) and word completions for the search box."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from forum import permissions
from forum.auth import viewer
from forum.errors import ValidationError
from forum.extensions import db
from forum.models import Board
from forum.search import service
from forum.services import reading

bp = Blueprint("search", __name__)


@bp.get("/search")
@login_required
def results():
    user = viewer()
    error = None
    try:
        params = service.parse_params(request.args)
    except ValidationError as problem:
        error, params = problem.message, service.Params(q=(request.args.get("q") or "").strip())
    page = service.search(user, params) if error is None else service.Page(params, [], 0, None)
    boards = list(db.session.scalars(
        select(Board).where(Board.id.in_(permissions.visible_board_ids(user)))
        .options(joinedload(Board.cluster)).order_by(Board.cluster_id.is_(None), Board.cluster_id, Board.position)
    ))
    return render_template(
        "search/results.html", page=page, params=params, error=error, boards=boards,
        clusters=list({b.cluster.id: b.cluster for b in boards if b.cluster}.values()),
        themenfelder=reading.themenfelder(),
    ), 400 if error else 200


@bp.get("/search/vorschlaege")
@login_required
def completions():
    return jsonify(service.suggest(viewer(), request.args.get("q", "")))

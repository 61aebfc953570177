"""GET /api/v1/search (CONTRACT.md): threads ranked, one per thread (its best post)."""
from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _

from forum.api import bp
from forum.auth import viewer
from forum.errors import ValidationError
from forum.search import service


@bp.get("/search")
def search():
    params = service.parse_params(request.args)
    if not params.q:
        raise ValidationError(_("Bitte geben Sie einen Suchbegriff an (q)."), "q")
    page = service.search(viewer(), params)
    return jsonify(
        items=[item.as_json() for item in page.items],
        page=params.page, per_page=params.per_page, total=page.total, suggestion=page.suggestion,
    )

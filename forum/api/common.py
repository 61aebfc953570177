"""Request parsing shared by the API views: JSON bodies, typed fields, page parameters and
the look-ups that answer 404 for what the caller may not see."""
from __future__ import annotations

import json
import re

from flask import abort, request
from flask_babel import gettext as _
from sqlalchemy import select

from forum import permissions
from forum.auth import viewer
from forum.errors import ValidationError
from forum.extensions import db
from forum.models import Board, Cluster, Post, Thread
from forum.rendering import has_control_characters

MAX_PER_PAGE = 100
MAX_ID = 2**31 - 1  # ids beyond an INTEGER column cannot exist; asking for one is a 404, not a 500


MAX_JSON_DEPTH = 16   # the API's bodies are objects of texts, ids and lists of texts: depth 2
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_body() -> dict:
    """The request's JSON object: 415 for another content type, 400 for broken JSON, for
    nesting deeper than MAX_JSON_DEPTH, for a lone surrogate (``"\\ud800"``, which no database
    column can store) in any key or string, or for a value that is not an object. Werkzeug
    answers 413 for bodies over MAX_CONTENT_LENGTH. (Issue 15, point 10: the last three were 500s.)"""
    if not request.is_json:
        abort(415, _("Bitte senden Sie JSON (Content-Type: application/json)."))
    raw = request.get_data(cache=True)
    try:
        # as json.loads decodes bytes (UTF-8, or UTF-16/32 by their first bytes)
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
    except ValueError:
        abort(400, _("Der Inhalt ist kein gültiges JSON."))
    if _too_deep(text):
        abort(400, _("Der Inhalt ist zu tief verschachtelt (höchstens %(n)s Ebenen).", n=MAX_JSON_DEPTH))
    try:
        data = json.loads(text) if text else None
    except ValueError:
        abort(400, _("Der Inhalt ist kein gültiges JSON."))
    if not isinstance(data, dict):
        abort(400, _("Der Inhalt muss ein JSON-Objekt sein."))
    for name, value in data.items():
        if _has_surrogate(name) or _has_surrogate(value):
            raise ValidationError(_("Das Feld „%(name)s“ enthält ungültige Zeichen (kein gültiges Unicode).",
                                    name=_SURROGATE.sub("\ufffd", name[:40])), name)
    return data


def _too_deep(text: str) -> bool:
    """Nesting deeper than MAX_JSON_DEPTH, decided before the parser recurses into it: the
    brackets outside strings, innermost pairs peeled off once per level (each pass in C)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _level in range(MAX_JSON_DEPTH):
        if not brackets:
            return False
        brackets = brackets.replace("[]", "").replace("{}", "")
    return bool(brackets)   # too deep (or unbalanced, which the parser would refuse anyway)


def _has_surrogate(value: object) -> bool:
    """A UTF-16 surrogate left alone (a valid pair decodes to one character); depth is bounded."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_surrogate(key) or _has_surrogate(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(item) for item in value)
    return False


def string_field(data: dict, name: str, *, required: bool = True) -> str | None:
    """A field that must be a JSON string; services check length and content."""
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        if value is None:
            raise ValidationError(_("Das Feld „%(name)s“ fehlt.", name=name), name)
        raise ValidationError(_("Das Feld „%(name)s“ muss ein Text sein.", name=name), name)
    return value


def id_field(data: dict, name: str) -> int | None:
    """An optional id: a JSON integer or null."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ValidationError(_("Das Feld „%(name)s“ muss eine positive ganze Zahl sein.", name=name), name)
    return value


def string_list_field(data: dict, name: str) -> list[str]:
    value = data.get(name, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("Das Feld „%(name)s“ muss eine Liste von Texten sein.", name=name), name)
    if any(has_control_characters(item) for item in value):
        raise ValidationError(_("Das Feld „%(name)s“ enthält unzulässige Steuerzeichen.", name=name), name)
    return value


def _positive_arg(name: str, default: int, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise ValidationError(_("„%(name)s“ muss eine positive ganze Zahl sein.", name=name), name)
    value = int(raw)
    if maximum is not None and value > maximum:
        raise ValidationError(_("„%(name)s“ darf höchstens %(max)s sein.", name=name, max=maximum), name)
    return value


def page_args(default_per_page: int) -> tuple[int, int]:
    """``?page=N&per_page=M``: positive integers, at most MAX_PER_PAGE per page."""
    return _positive_arg("page", 1), _positive_arg("per_page", min(default_per_page, MAX_PER_PAGE), MAX_PER_PAGE)


def page_of(items: list, page: int, per_page: int, total: int) -> dict:
    return {"items": items, "page": page, "per_page": per_page, "total": total}


# -- look-ups: unknown and not visible answer alike --------------------------------------------

def _known_id(value: int) -> None:
    if not 0 < value <= MAX_ID:
        abort(404)


def cluster_or_404(slug: str) -> Cluster:
    if len(slug) > 80 or has_control_characters(slug):
        abort(404)
    cluster = db.session.scalar(select(Cluster).where(Cluster.slug == slug))
    permissions.ensure_visible(cluster is not None and permissions.can_see_cluster(viewer(), cluster))
    return cluster


def board_or_404(board_id: int) -> Board:
    _known_id(board_id)
    board = db.session.get(Board, board_id)
    permissions.ensure_visible(board is not None and permissions.can_view_board(viewer(), board))
    return board


def thread_or_404(thread_id: int) -> Thread:
    _known_id(thread_id)
    thread = db.session.get(Thread, thread_id)
    permissions.ensure_visible(thread is not None and permissions.can_view_thread(viewer(), thread))
    return thread


def post_or_404(post_id: int) -> Post:
    _known_id(post_id)
    post = db.session.get(Post, post_id)
    permissions.ensure_visible(post is not None and permissions.can_view_post(viewer(), post))
    return post

"""Thin blueprints per URL area; they parse and validate, services do the work."""
from __future__ import annotations

from flask import Flask, abort, request
from flask_babel import get_locale, gettext as _
from flask_login import current_user

from forum import permissions
from forum.models import Cluster
from forum.services.validation import MAX_ID
from forum.web import presenters


def _ids_in_range(endpoint: str | None, values: dict | None) -> None:
    """``<int:…>`` of a web page: an id beyond the INTEGER columns cannot exist; 404 before the
    database fails on it with a 500 (found by fuzzing). The API checks its ids itself
    (api/common.py), after its 401 for anonymous callers. Not a converter with ``max``: Werkzeug
    answers 405 instead of 404 where another method's rule shares the path."""
    if endpoint and not endpoint.startswith("api.") and values and any(
            isinstance(value, int) and value > MAX_ID for value in values.values()):
        abort(404)


def _no_nul_characters() -> None:
    """PostgreSQL refuses the NUL character in every string, so a page's path or query value with
    one (a slug, a filter) failed in the database with a 500 (found by fuzzing); no address needs
    it. Form fields are validated where they are used, with the message beside the field; the API
    validates its input itself."""
    if request.blueprint == "api":
        return
    values = [*(request.view_args or {}).values(), *(v for vs in request.args.listvalues() for v in vs)]
    if any(isinstance(value, str) and "\x00" in value for value in values):
        abort(400, _("Die Eingabe enthält ein unzulässiges Steuerzeichen."))


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(_ids_in_range)
    app.before_request(_no_nul_characters)
    from forum.web import (
        accounts,
        admin,
        api_tokens,  # the account's API tokens
        auth,
        clusters,
        join,
        main,
        manage,
        moderation,  # thread/post tools, reports, log, best practice
        notifications,  # bell, list, settings, watching, reactions
        search,
        threads,
        twofactor,  # two-factor log-in settings; admins set it up first
    )

    app.register_blueprint(twofactor.bp)

    for module in (main, auth, accounts, api_tokens, clusters, threads, admin, search, manage, join, notifications,
                   moderation):
        app.register_blueprint(module.bp)

    app.jinja_env.globals.update(perm=permissions, current_locale=_current_locale, nav_clusters=_nav_clusters,
                                 link=presenters.Link, person_links=presenters.PersonLinks)
    app.jinja_env.filters.update(datum=presenters.datum, zeit=presenters.zeit, number=_number)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


def _current_locale() -> str:
    return str(get_locale() or "de")


def _nav_clusters() -> list[Cluster]:
    """The viewer's own clusters for the navigation; loaded with the account (no query)."""
    if not current_user.is_authenticated:
        return []
    return sorted((m.cluster for m in current_user.memberships), key=lambda cluster: cluster.name)


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")

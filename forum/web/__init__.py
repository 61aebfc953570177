"""Thin blueprints per URL area; they parse and validate, services do the work."""
from __future__ import annotations

import datetime as dt

from flask import Flask
from flask_babel import format_date, format_datetime, gettext as _
from markupsafe import Markup

from forum import permissions
from forum.models.util import isoformat


def init_app(app: Flask) -> None:
    from forum.web import accounts, admin, auth, clusters, main, threads

    for module in (main, auth, accounts, clusters, threads, admin):
        app.register_blueprint(module.bp)

    app.jinja_env.globals.update(perm=permissions)
    app.jinja_env.filters.update(datum=_datum, zeit=_zeit, number=_number)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


def _datum(value: dt.datetime | None) -> str:
    return "" if value is None else format_date(value, "dd.MM.yyyy")


def _zeit(value: dt.datetime | None) -> Markup:
    """``<time>`` in German format ("25.11.2026, 14:05"), machine-readable in ``datetime``."""
    if value is None:
        return Markup("")
    text = format_datetime(value, "dd.MM.yyyy, HH:mm")
    return Markup('<time datetime="{}">{}</time>').format(isoformat(value), text)


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")

"""Thin blueprints per URL area; they parse and validate, services do the work."""
from __future__ import annotations

import datetime as dt

from flask import Flask
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from forum import permissions
from forum.extensions import db
from forum.models import Cluster
from forum.models.util import isoformat


def init_app(app: Flask) -> None:
    from forum.web import accounts, admin, auth, clusters, join, main, manage, search, threads
    from forum.web import notifications  # bell, list, settings, watching, reactions
    from forum.web import moderation  # thread/post tools, reports, log, best practice

    for module in (main, auth, accounts, clusters, threads, admin, search, manage, join, notifications, moderation):
        app.register_blueprint(module.bp)

    app.jinja_env.globals.update(perm=permissions, current_locale=_current_locale, nav_clusters=_nav_clusters)
    app.jinja_env.filters.update(datum=_datum, zeit=_zeit, number=_number)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


def _current_locale() -> str:
    return str(get_locale() or "de")


def _nav_clusters() -> list[Cluster]:
    """The viewer's own clusters for the navigation, in one query."""
    ids = current_user.cluster_ids if current_user.is_authenticated else frozenset()
    if not ids:
        return []
    return list(db.session.scalars(select(Cluster).where(Cluster.id.in_(ids)).order_by(Cluster.name)))


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

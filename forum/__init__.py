"""Clusterforum: the application factory reads like a table of contents."""
from __future__ import annotations

import os
import sys

from flask import Flask

from forum import config


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("FORUM_INSTANCE_DIR") or str(config.ROOT / "instance"),
        template_folder=str(config.ROOT / "templates"),
        static_folder=str(config.ROOT / "static"),
    )
    config.load(app, overrides)

    from forum import auth, cli, errors, extensions, i18n, inputs, limits, page_cache, search, security, serving
    from forum.api import init_app as init_api
    from forum.web import init_app as init_web

    inputs.init_app(app)  # query strings that are not UTF-8 read as percent-escapes, not a 500
    extensions.db.init_app(app)
    if os.environ.get("FLASK_RUN_FROM_CLI") == "true" or "flask_migrate" in sys.modules:
        # Flask-Migrate only where migrations run: the `flask` command (`flask db upgrade`) and
        # code that imported it (tests). A gunicorn worker never needs it, and it brings alembic
        # and mako: 11 MB of every worker's memory.
        from flask_migrate import Migrate
        Migrate(app, extensions.db, directory=str(config.ROOT / "migrations"), render_as_batch=True, compare_type=True)
    extensions.csrf.init_app(app)
    limits.init_app(app)  # the limiter, and Retry-After on 429
    auth.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    serving.init_app(app)
    errors.init_app(app)
    init_web(app)
    init_api(app)
    search.init_app(app)
    cli.init_app(app)
    page_cache.init_app(app)  # last: its lookup runs before every other request hook
    return app

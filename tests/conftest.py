"""Fixtures that build on each other: app → db → users → cluster → board → thread → post.

The database is SQLite in a temporary folder, or PostgreSQL when FORUM_TEST_DATABASE_URL
is set (``make test`` runs the suite once for each). Under CI=true a missing PostgreSQL or
Chromium is an error, not a skip.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import text

from forum import create_app
from forum.extensions import db as _db
from tests import factories


def _worker_database(url: str) -> str:
    """Under pytest-xdist each worker gets its own PostgreSQL database (``test_gw0`` …),
    created on first use, so workers never truncate each other's tables."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


PG_URL = _worker_database(os.environ.get("FORUM_TEST_DATABASE_URL", ""))
# FORUM_TEST_SEARCH_BACKEND=postgres runs the tests with the PostgreSQL search backend
# (``make test-postgres`` does so for tests/test_search_*.py); it needs FORUM_TEST_DATABASE_URL.
SEARCH_BACKEND = os.environ.get("FORUM_TEST_SEARCH_BACKEND", "whoosh")
if SEARCH_BACKEND == "postgres" and not PG_URL:
    raise pytest.UsageError("FORUM_TEST_SEARCH_BACKEND=postgres braucht FORUM_TEST_DATABASE_URL (PostgreSQL).")
_schema_ready: set[str] = set()


def pytest_report_header(config):
    return (f"database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (temporary file)'}, "
            f"search backend: {SEARCH_BACKEND}")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """Where the first test of this worker leaves its freshly created SQLite database; later
    tests start from a copy of that file (creating the schema costs more than copying it)."""
    return tmp_path_factory.mktemp("template") / "forum.db"


@pytest.fixture
def app(tmp_path, _sqlite_template):
    database = tmp_path / "forum.db"
    if not PG_URL and _sqlite_template.exists():
        shutil.copyfile(_sqlite_template, database)
    overrides = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": PG_URL or f"sqlite:///{database}",
        "SEARCH_DIR": str(tmp_path / "search_index"),
        "SEARCH_BACKEND": SEARCH_BACKEND,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        # admins would otherwise be sent to the two-factor set-up first (tests/test_two_factor.py)
        "TWO_FACTOR_REQUIRED_FOR_ADMINS": False,
        "MAIL_SERVER": None,
        "SERVER_NAME": "forum.test",
        # cheap hashes keep the suite fast; production uses argon2's recommended parameters
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "ARGON2_PARALLELISM": 1,
    }
    os.environ.setdefault("FORUM_INSTANCE_DIR", str(tmp_path / "instance"))
    app = create_app(overrides)

    @app.teardown_request
    def _forget_caller(_error):
        """Tests keep one app context, and so one ``g``, across requests; forget who asked, as
        a real request would, so an anonymous request after a signed-in one stays anonymous."""
        g.pop("_login_user", None)
        g.pop("token_auth", None)
        g.pop("csrf_token", None)   # Flask-WTF keeps the signed token of "this request" in g

    with app.app_context():
        if PG_URL or not _sqlite_template.exists():
            _reset_schema()
            factories.seed_basics()
            if not PG_URL:
                _db.engine.dispose()   # closes the WAL into the main file
                shutil.copyfile(database, _sqlite_template)
        yield app
        _db.session.remove()
        _db.engine.dispose()


def _reset_schema() -> None:
    """SQLite: a fresh file per test (then copied, see ``_sqlite_template``). PostgreSQL: the
    schema once, then every row deleted and every sequence restarted per test — for the few
    rows a test writes, DELETE is four times faster than TRUNCATE, which replaces each table's
    files."""
    if not PG_URL:
        _db.create_all()
        return
    if PG_URL not in _schema_ready:
        _db.drop_all()
        with _db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        _db.create_all()
        _schema_ready.add(PG_URL)
        return
    with _db.engine.begin() as conn:
        for table in reversed(_db.metadata.sorted_tables):
            conn.execute(table.delete())
        sequences = conn.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")).scalars()
        for name in sequences.all():
            conn.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# -- the cast: two clusters and every role --------------------------------------------------

@pytest.fixture
def world(app):
    """Two clusters with boards, a thread each, and one account per role (see factories.World)."""
    return factories.build_world()


@pytest.fixture
def login(client):
    """``login(user)`` signs the test client in as that account."""
    def _login(user, password=factories.PASSWORD):
        client.post("/logout")
        response = client.post("/login", data={"login": user.username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client
    return _login


@pytest.fixture
def api_token(client):
    """``api_token(user)`` → headers with a bearer token for that account."""
    def _token(user, password=factories.PASSWORD):
        response = client.post("/api/v1/tokens", json={"username": user.username, "password": password})
        assert response.status_code == 201, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['token']}"}
    return _token


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "kein CSRF-Token auf der Seite"
    return match.group(1)


# -- a real SMTP server on 127.0.0.1 -----------------------------------------------------------

@pytest.fixture
def smtp_server(app):
    """aiosmtpd on a free loopback port; the app delivers to it. ``.messages`` holds what arrived."""
    import email
    import email.policy
    import socket

    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages: list[email.message.EmailMessage] = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                          policy=email.policy.default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        yield inbox
    finally:
        controller.stop()


# -- counting SQL statements ----------------------------------------------------------------

@pytest.fixture
def count_queries(app):
    """``with count_queries() as counted: …`` then ``counted.n`` statements were executed.
    The page cache is switched off meanwhile, so what is counted is the page's own work;
    ``keep_pages=True`` counts with it (a cached answer)."""
    import contextlib

    from sqlalchemy import event

    @contextlib.contextmanager
    def _count(keep_pages: bool = False):
        caching = app.config["PAGE_CACHE"]
        app.config["PAGE_CACHE"] = caching and keep_pages
        class Counter:
            n = 0
            statements: list[str] = []

        counter = Counter()
        counter.statements = []

        def before(conn, cursor, statement, parameters, context, executemany):
            counter.n += 1
            counter.statements.append(statement)

        engine = _db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)
            app.config["PAGE_CACHE"] = caching

    return _count

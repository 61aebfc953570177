"""Every extension, created without an app; ``create_app`` binds them."""
from __future__ import annotations

import sqlite3

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


# -- SQLite: write-ahead log (mail queue) ---------------------------------------------------------
SQLITE_BUSY_TIMEOUT_MS = 20_000


@event.listens_for(Engine, "connect")
def _sqlite_write_ahead_log(dbapi_connection, _record) -> None:
    """WAL for SQLite files: readers no longer block the writer, and a commit appends to the
    log (one fsync, ~0.3 ms here) instead of rewriting a rollback journal (~13 ms). The mail
    worker commits once per mail (forum.services.mailer). ``synchronous`` stays FULL, so a
    commit is as durable as before. In-memory databases keep their own mode."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA journal_mode=WAL").close()
        # One writer at a time: a second one waits for the lock up to busy_timeout, then fails
        # with "database is locked" (a 500). Python's default is 5 s. Under tests/test_load.py
        # (20 clients, 4 gunicorn workers, 2 cores at load 10) single statements waited up to
        # 2.6 s, and with 0.5 s every 30th write failed: 5 s is only twice the worst seen. 20 s
        # stays below gunicorn's 30 s worker timeout. BEGIN IMMEDIATE is not needed: the sqlite3
        # module opens a transaction only at its first INSERT/UPDATE/DELETE, so no transaction
        # reads before it writes, and the lock is waited for, never refused with
        # SQLITE_BUSY_SNAPSHOT.
        dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}").close()

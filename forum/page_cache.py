"""Rendered pages kept per member until anything in the database changes.

The pages people open most (start page, cluster home, board, thread, search) are read far
more often than anything is written. Each worker keeps the HTML it rendered for a member,
keyed by everything the page depends on besides the database — the member's session (account
id and session token, CSRF token, session-protection identifier), the path with its query
string — and tagged with the database's *change version* at the moment rendering began.
A later request for the same key is answered from memory only while that version is
unchanged, so a page is never older than the last committed write, by anyone, in any process:

* PostgreSQL: the text of ``pg_current_snapshot()`` — its ``xmax`` moves whenever any
  transaction takes a transaction id (every writer does), and its list of running writers
  changes when one of them commits.
* SQLite: ``PRAGMA data_version`` changes on a connection whenever another connection has
  committed; commits through this process's own connections are counted in Python. Both
  advance one process-wide epoch.

What the database cannot vouch for stays out: pages that showed flashed messages, responses
that are not a plain 200 HTML page, API and token requests, sessions whose protection
identifier no longer matches (Flask-Login then signs them out on the normal path). Entries
also expire after ``PAGE_CACHE_SECONDS`` so that time-bound states (a suspension ending) are
picked up, and the store is bounded in bytes (least recently used first out).

A hit skips the view and the account load — not the response hooks: security headers,
compression and the session cookie are handled as for any other response.
"""
from __future__ import annotations

import collections
import dataclasses
import threading
import time

from flask import Flask, Response, current_app, g, request, session
from flask_login.utils import _create_identifier
from sqlalchemy import Engine, Pool, event, text
from sqlalchemy.orm import Session

from forum.extensions import db

CACHEABLE = frozenset({"main.index", "clusters.show", "clusters.board", "threads.show", "search.results"})
_NO_STORE = object()


@dataclasses.dataclass(slots=True)
class Entry:
    version: object
    stored: float
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class PageStore:
    """A byte-bounded LRU of rendered pages; one per worker process, shared by its threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: collections.OrderedDict[tuple, Entry] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: Entry) -> None:
        if len(entry.body) > self.max_bytes // 4:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.size -= len(old.body)
            self._entries[key] = entry
            self.size += len(entry.body)
            while self.size > self.max_bytes:
                _key, dropped = self._entries.popitem(last=False)
                self.size -= len(dropped.body)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0

    def __len__(self) -> int:
        return len(self._entries)


# -- the database's change version ---------------------------------------------------------------

class _Epoch:
    """SQLite: one number per process that moves whenever this process commits or any of its
    connections sees another connection's commit (``PRAGMA data_version``)."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.value += 1


_epoch = _Epoch()


_COMMITTED = "page_cache_committed"


@event.listens_for(Engine, "commit")
def _local_commit(connection) -> None:
    """Before a commit of this process: pages whose rendering starts from now on are tagged
    with a new epoch. Not enough alone — a page rendered while the commit is still under way
    reads the data as it was, yet carries the new epoch; so the epoch moves again once the
    commit is done (``_after_commit`` for the ORM, ``_checked_in`` for everything else)."""
    _epoch.bump()
    connection.info[_COMMITTED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(_session) -> None:
    _epoch.bump()


@event.listens_for(Pool, "checkin")
def _checked_in(_dbapi_connection, record) -> None:
    """Core commits (``engine.begin()`` blocks: outbox, mail queue) end before their connection
    goes back to the pool."""
    if record is not None and record.info.pop(_COMMITTED, False):
        _epoch.bump()


def database_version() -> object:
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        return connection.execute(text("SELECT pg_current_snapshot()::text")).scalar_one()
    data_version = connection.exec_driver_sql("PRAGMA data_version").scalar_one()
    info = connection.connection.info   # the pooled DBAPI connection's own dict
    if info.get("data_version") != data_version:
        info["data_version"] = data_version
        _epoch.bump()
    return _epoch.value


# -- the hooks ---------------------------------------------------------------------------------------

def _key() -> tuple | None:
    """The request's key, or None when it must take the normal path."""
    if (not current_app.config["PAGE_CACHE"] or request.method != "GET" or request.endpoint not in CACHEABLE
            or "Authorization" in request.headers):
        return None
    user_id = session.get("_user_id")
    if not user_id or "_flashes" in session:
        return None
    if session.get("_id") != _create_identifier():   # session protection decides on the normal path
        return None
    return (request.full_path, user_id, session.get("_id"), session.get("csrf_token"), session.get("_fresh"))


def _serve_from_cache() -> Response | None:
    key = _key()
    if key is None:
        return None
    version = database_version()
    store: PageStore = current_app.extensions["page_cache"]
    entry = store.get(key)
    if entry is not None and entry.version == version \
            and time.monotonic() - entry.stored < current_app.config["PAGE_CACHE_SECONDS"]:
        response = Response(entry.body, status=entry.status)
        response.headers.clear()
        response.headers.extend(entry.headers)
        g.page_cache = _NO_STORE
        return response
    g.page_cache = (key, version)
    return None


def _remember(response: Response) -> Response:
    pending = g.pop("page_cache", None)
    if pending is None or pending is _NO_STORE:
        return response
    if response.status_code != 200 or response.mimetype != "text/html" or response.direct_passthrough \
            or response.headers.get("Set-Cookie") or session.modified or g.get("token_auth"):
        return response
    key, version = pending
    headers = [(name, value) for name, value in response.headers.items() if name.lower() != "content-length"]
    current_app.extensions["page_cache"].put(key, Entry(version, time.monotonic(), 200, headers, response.get_data()))
    return response


def init_app(app: Flask) -> None:
    """Call last in the factory: the lookup then runs before every other request hook, and the
    store sees the page before compression and the shared headers are added."""
    app.extensions["page_cache"] = PageStore(int(app.config["PAGE_CACHE_MB"] * 1024 * 1024))
    app.before_request_funcs.setdefault(None, []).insert(0, _serve_from_cache)
    app.after_request(_remember)

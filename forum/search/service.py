"""The search service: the few functions views, the API and the CLI call.

``search`` and ``suggest`` answer a viewer from whatever index exists (no index: no hits and
``Page.rebuilding``); ``drain``, ``rebuild`` and ``check`` keep the index in step with the
database — in the worker (``flask forum worker``, ``forum.jobs``) and the CLI, never in a
request. A request that wrote indexes only its own outbox rows (``drain_own``), so an author
finds a new post at once; a missing or broken index is rebuilt by the worker alone. The
backend (Whoosh by default, ``SEARCH_BACKEND``; ``postgres`` keeps the index in the database
for several app servers) is created once per process and index.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from flask import Flask, current_app, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import inspect as sa_inspect, select
from sqlalchemy.orm import Session

from forum import permissions
from forum.errors import ValidationError
from forum.extensions import db
from forum.models import Board, Cluster, Post, Thread, User
from forum.models.util import isoformat
from forum.permissions import Viewer
from forum.rendering import has_control_characters
from forum.search import OWN_ROWS, outbox
from forum.search.backend import Backend, Drift, Query, Scope
from forum.search.pg_backend import PgBackend
from forum.search.whoosh_backend import WhooshBackend

PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_QUERY_LENGTH = 200
SORTS = ("relevance", "newest")
OWN_DRAIN_WAIT = 0.1    # a write request waits this long for the index lock, then leaves its rows to the worker

_backends: dict[tuple[str, str], Backend] = {}
_ready: set[tuple[str, str]] = set()
_guard = threading.Lock()


# -- set-up -------------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    """After a request that wrote, indexes that request's own outbox rows (nothing else)."""
    app.before_request(_forget_own_rows)
    app.after_request(_drain_own_after_request)


def _key() -> tuple[str, str]:
    """Which index this app uses: the backend and its folder (Whoosh), or the backend, the
    database and the folder the app was configured with (PostgreSQL; the folder then only
    tells apart apps that share a database, such as the tests)."""
    name = current_app.config.get("SEARCH_BACKEND", "whoosh")
    directory = str(Path(current_app.config["SEARCH_DIR"]).resolve())
    if name == "postgres":
        return name, f"{db.engine.url.render_as_string(hide_password=True)}#{directory}"
    return name, directory


def backend() -> Backend:
    key = _key()
    with _guard:
        if key not in _backends:
            if key[0] == "whoosh":
                _backends[key] = WhooshBackend(key[1], reindex_mb=current_app.config["SEARCH_REINDEX_MB"])
            elif key[0] == "postgres":
                if db.engine.dialect.name != "postgresql":
                    raise RuntimeError("Das Such-Backend „postgres“ braucht eine PostgreSQL-Datenbank.")
                _backends[key] = PgBackend()
            else:
                raise RuntimeError(f"Unbekanntes Such-Backend: {key[0]}")
        return _backends[key]


def _directory() -> Path:
    """The Whoosh index folder (also where its drain lock file lives)."""
    return Path(current_app.config["SEARCH_DIR"]).resolve()


def ensure_ready() -> None:
    """Once per process and index: a missing, empty or corrupt index is rebuilt. For the
    worker and the CLI only (minutes at a million posts): requests never call it."""
    key = _key()
    if key in _ready:
        return
    engine = backend()
    if not engine.ready():
        current_app.logger.warning("Suchindex fehlt oder ist beschädigt; er wird neu aufgebaut.")
        outbox.rebuild(engine, _directory(), only_if_broken=True)
    _ready.add(key)


def repair() -> int | None:
    """For the worker: rebuilds the index when it is missing or broken (checked every time,
    not once per process); the posts indexed, or ``None`` when nothing was to be done."""
    if backend().ready():
        _ready.add(_key())
        return None
    current_app.logger.warning("Suchindex fehlt oder ist beschädigt; er wird neu aufgebaut.")
    count = outbox.rebuild(backend(), _directory(), only_if_broken=True)
    if count is not None:
        _ready.add(_key())
    return count


def _forget_own_rows() -> None:
    """A request starts with no rows of its own (tests keep one session across requests)."""
    if db.session.registry.has():   # no session yet: nothing to forget (and none made for it)
        db.session.info.pop(OWN_ROWS, None)


def _own_row_ids() -> list[int]:
    """The ids of the outbox rows this session added and committed (a rolled-back row has
    no identity any more; one added but not committed is still pending)."""
    ids = []
    for row in db.session.info.pop(OWN_ROWS, ()):
        state = sa_inspect(row)
        if state.has_identity and not state.pending and not state.deleted:
            ids.append(state.identity[0])
    return ids


def _drain_own_after_request(response):
    if db.session.registry.has():
        drain_own(_own_row_ids())
    return response


def drain_own(ids: list[int], wait: float = OWN_DRAIN_WAIT) -> int:
    """Indexes the outbox rows ``ids`` (a request's own writes), so the author finds the new
    post in the next search; every other row is the worker's. Never fails the request: the
    write is already committed, and a 500 would report a saved post as lost (a client that
    retries posts it twice). Rows it could not apply (the lock busy, the index missing or
    being rebuilt, SQLite "database is locked" under load, tests/test_load.py) stay for the
    worker. Never rebuilds."""
    if not ids:
        return 0
    try:
        return outbox.drain(backend(), _directory(), wait, ids=ids)
    except Exception:  # noqa: BLE001 - logged; the worker applies the rows
        if _index_available():
            current_app.logger.warning("Suchindex: Abgleich verschoben, der Worker übernimmt.", exc_info=True)
        return 0


def _index_available() -> bool:
    try:
        return backend().ready()
    except Exception:  # noqa: BLE001 - an index that cannot even be asked is not available
        return False


def warm_up() -> bool:
    """For a new worker before its first request (gunicorn's ``post_worker_init``): reads
    what every search needs, if the index is there. Never fails the worker: a problem is
    logged, and the first search then reads the index itself (the worker repairs a broken one)."""
    try:
        engine = backend()
        if not engine.ready():
            return False
        engine.warm_up()
        return True
    except Exception:  # noqa: BLE001 - a cold cache is no reason to stop a worker
        current_app.logger.warning("Suchindex: Vorwärmen fehlgeschlagen, die erste Suche liest ihn.", exc_info=True)
        return False


# -- keeping the index in step ------------------------------------------------------------

def drain(wait: float = 0.0) -> int:
    ensure_ready()
    return outbox.drain(backend(), _directory(), wait)


def rebuild(progress: Callable[[int], None] | None = None) -> int:
    count = outbox.rebuild(backend(), _directory(), progress)
    if count is None:
        raise RuntimeError(_("Der Suchindex wird gerade von einem anderen Prozess geschrieben."))
    _ready.add(_key())
    return count


def writer_lock(wait: float = 0.0):
    """The lock every writer of this app's index takes (``with writer_lock() as locked``)."""
    return outbox.lock_for(backend(), _directory(), wait)


def indexable_count() -> int:
    with Session(db.engine) as session:
        return outbox.count_indexable(session)


def check() -> Drift:
    """Index against database, after the pending outbox rows are applied."""
    drain(wait=10.0)
    with Session(db.engine) as session:
        expected = outbox.indexable_posts(session)
    actual = backend().indexed()
    return Drift(
        missing=set(expected) - set(actual),
        extra=set(actual) - set(expected),
        moved={post_id for post_id, board_id in actual.items()
               if post_id in expected and expected[post_id] != board_id},
    )


# -- answering ----------------------------------------------------------------------------

@dataclasses.dataclass
class Params:
    q: str = ""
    cluster: str = ""
    board: int | None = None
    tag: str = ""
    author: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = PER_PAGE

    def link_args(self) -> dict:
        """The query string of this search without ``page`` (for pagination links)."""
        args = {"q": self.q, "cluster": self.cluster, "board": self.board, "tag": self.tag, "author": self.author,
                "from": self.date_from.isoformat() if self.date_from else None,
                "to": self.date_to.isoformat() if self.date_to else None,
                "sort": self.sort if self.sort != "relevance" else None,
                "per_page": self.per_page if self.per_page != PER_PAGE else None}
        return {k: v for k, v in args.items() if v not in (None, "")}


def _int(args: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> int | None:
    value = (args.get(name) or "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 12 or not low <= int(value) <= high:
        raise ValidationError(_("%(name)s muss eine Zahl zwischen %(low)s und %(high)s sein.", name=name, low=low,
                                high=high), name)
    return int(value)


def _date(args: Mapping[str, str], name: str) -> dt.date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(_("Bitte geben Sie das Datum als JJJJ-MM-TT an."), name) from None


def parse_params(args: Mapping[str, str]) -> Params:
    """Query-string parameters (web page and API alike) → ``Params``; ValidationError if bad."""
    for name in ("cluster", "tag", "author"):
        if has_control_characters(args.get(name) or ""):   # a NUL made PostgreSQL fail (found by fuzzing)
            raise ValidationError(_("„%(name)s“ enthält unzulässige Steuerzeichen.", name=name), name)
    # pasted text may carry a zero-width space or a NUL: dropped, the words still count
    q = "".join(char for char in (args.get("q") or "") if not has_control_characters(char))
    sort = (args.get("sort") or "relevance").strip()
    if sort not in SORTS:
        raise ValidationError(_("Sortierung muss „relevance“ oder „newest“ sein."), "sort")
    return Params(
        q=q.strip()[:MAX_QUERY_LENGTH], cluster=(args.get("cluster") or "").strip(),
        board=_int(args, "board", None, 1, 2**31 - 1), tag=(args.get("tag") or "").strip(),
        author=(args.get("author") or "").strip().lstrip("@").lower(),
        date_from=_date(args, "from"), date_to=_date(args, "to"), sort=sort,
        page=_int(args, "page", 1, 1, 10_000), per_page=_int(args, "per_page", PER_PAGE, 1, MAX_PER_PAGE),
    )


@dataclasses.dataclass
class Item:
    post_id: int
    thread_id: int
    thread_title: str
    board_id: int
    board_name: str
    cluster_slug: str | None
    cluster_name: str | None
    snippet_html: Markup
    score: float
    created_at: dt.datetime
    url: str

    def as_json(self) -> dict:
        return {"post_id": self.post_id, "thread_id": self.thread_id, "thread_title": self.thread_title,
                "board_id": self.board_id, "cluster_slug": self.cluster_slug, "snippet_html": str(self.snippet_html),
                "score": self.score, "created_at": isoformat(self.created_at), "url": self.url}


@dataclasses.dataclass
class Page:
    params: Params
    items: list[Item]
    total: int
    suggestion: str | None
    rebuilding: bool = False   # the index is missing or being rebuilt: the hits may be incomplete

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.params.per_page))


def search(viewer: Viewer, params: Params) -> Page:
    """One page of threads matching ``params.q`` that ``viewer`` may read, best post each,
    from the index as it is (searches never drain or rebuild). While the index is missing or
    being rebuilt: no hits and ``rebuilding``, never an error."""
    if not params.q:
        return Page(params, [], 0, None)
    allowed = frozenset(db.session.scalars(permissions.visible_board_ids(viewer)))
    filters = _filters(params, allowed)
    if filters is None or not allowed:
        return Page(params, [], 0, None)
    try:
        result = backend().search(Query(
            text=params.q, board_ids=allowed, sort=params.sort, offset=(params.page - 1) * params.per_page,
            limit=params.per_page, scope=scope(viewer), **filters,
        ))
    except Exception:
        if _index_available():
            raise
        return Page(params, [], 0, None, rebuilding=True)
    if result.total == 0 and not _index_available():   # only a search without hits asks
        return Page(params, [], 0, None, rebuilding=True)
    return Page(params, _items(result.hits, allowed), result.total, result.suggestion)


def suggest(viewer: Viewer, prefix: str, limit: int = 8) -> list[str]:
    """Word completions drawn only from posts ``viewer`` may read (none without an index)."""
    try:
        return backend().suggest(prefix[:60], scope(viewer), limit)
    except Exception:
        if _index_available():
            raise
        return []


def scope(viewer: Viewer) -> Scope:
    """The viewer's readable boards as the index filters on them (see ``Scope``)."""
    cluster_ids, platform = permissions.readable_board_scope(viewer)
    return Scope(cluster_ids, platform)


def _filters(params: Params, allowed: frozenset[int]) -> dict | None:
    """The user's filters as backend arguments; ``None`` when one names nothing visible."""
    filters: dict = {"board_id": params.board, "tag": params.tag or None}
    if params.board is not None and params.board not in allowed:
        return None
    if params.cluster:
        cluster_id = db.session.scalar(select(Cluster.id).where(Cluster.slug == params.cluster))
        if cluster_id is None:
            return None
        filters["cluster_id"] = cluster_id
    if params.author:
        author_id = db.session.scalar(select(User.id).where(User.username == params.author))
        if author_id is None:
            return None
        filters["author_id"] = author_id
    if params.date_from:
        filters["date_from"] = dt.datetime.combine(params.date_from, dt.time.min)
    if params.date_to:
        filters["date_to"] = dt.datetime.combine(params.date_to, dt.time.max)
    return filters


def _items(hits, allowed: frozenset[int]) -> list[Item]:
    """Fresh titles and places for the page's hits in one query; a post hidden, deleted or
    moved out of sight since the last drain is left out."""
    if not hits:
        return []
    rows = db.session.execute(
        select(Post.id, Thread.title, Thread.board_id, Board.name, Cluster.slug, Cluster.name)
        .join(Thread, Thread.id == Post.thread_id).join(Board, Board.id == Thread.board_id)
        .outerjoin(Cluster, Cluster.id == Board.cluster_id)
        .where(Post.id.in_([hit.post_id for hit in hits]), *outbox.INDEXABLE)
    ).all()
    current = {row[0]: row for row in rows}
    items = []
    for hit in hits:
        row = current.get(hit.post_id)
        if row is None or row.board_id not in allowed:
            continue
        _post_id, title, board_id, board_name, cluster_slug, cluster_name = row
        items.append(Item(
            post_id=hit.post_id, thread_id=hit.thread_id, thread_title=title, board_id=board_id,
            board_name=board_name, cluster_slug=cluster_slug, cluster_name=cluster_name,
            snippet_html=hit.snippet_html, score=hit.score, created_at=hit.created_at,
            url=url_for("threads.permalink", post_id=hit.post_id, _external=False),
        ))
    return items

"""The search service: the few functions views, the API and the CLI call.

``search`` and ``suggest`` answer a viewer; ``drain``, ``rebuild`` and ``check`` keep the
index in step with the database. The backend (Whoosh by default, ``SEARCH_BACKEND``;
``postgres`` keeps the index in the database for several app servers) is created once per
process and index.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from flask import Flask, current_app, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum import permissions
from forum.errors import ValidationError
from forum.extensions import db
from forum.models import Board, Cluster, Post, Thread, User
from forum.models.util import isoformat
from forum.permissions import Viewer
from forum.rendering import has_control_characters
from forum.search import outbox
from forum.search.backend import Backend, Drift, Query, Scope
from forum.search.pg_backend import PgBackend
from forum.search.whoosh_backend import WhooshBackend

PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_QUERY_LENGTH = 200
SORTS = ("relevance", "newest")
SEARCH_DRAIN_WAIT = 0.5   # a search waits this long for a running drain, then searches anyway

_backends: dict[tuple[str, str], Backend] = {}
_ready: set[tuple[str, str]] = set()
_guard = threading.Lock()


# -- set-up -------------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    """Rebuilds a missing or broken index when the process serves its first request, and
    drains the outbox after every write request."""
    app.before_request(_ensure_ready)
    app.after_request(_drain_after_write)


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
    """Once per process and index: a missing, empty or corrupt index is rebuilt."""
    key = _key()
    if key in _ready:
        return
    engine = backend()
    if not engine.ready():
        current_app.logger.warning("Suchindex fehlt oder ist beschädigt; er wird neu aufgebaut.")
        outbox.rebuild(engine, _directory(), only_if_broken=True)
    _ready.add(key)


def _ensure_ready() -> None:
    ensure_ready()


def _drain_after_write(response):
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        _drain_quietly()
    return response


def _drain_quietly(wait: float = 0.0) -> None:
    """A drain a request does on the side (after a write, before a search) never fails the
    request: after a write, the write is already committed, and a 500 would report a saved post
    as lost (a client that retries posts it twice). The outbox rows stay for the next drain;
    ``flask search check`` drains too. Seen under load on SQLite ("database is locked" in the
    outbox DELETE, tests/test_load.py)."""
    try:
        drain(wait)
    except Exception:  # noqa: BLE001 - logged; the index catches up on the next drain
        current_app.logger.warning("Suchindex: Abgleich verschoben, die Warteschlange bleibt stehen.", exc_info=True)


def warm_up() -> bool:
    """For a new worker before its first request (gunicorn's ``post_worker_init``): reads
    what every search needs, if the index is there. Never fails the worker: a problem is
    logged, and the first search then takes the normal path (which also repairs the index)."""
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
        moved={post_id for post_id, board_id in actual.items() if post_id in expected and expected[post_id] != board_id},
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
        raise ValidationError(_("%(name)s muss eine Zahl zwischen %(low)s und %(high)s sein.", name=name, low=low, high=high), name)
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

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.params.per_page))


def search(viewer: Viewer, params: Params) -> Page:
    """One page of threads matching ``params.q`` that ``viewer`` may read, best post each."""
    if not params.q:
        return Page(params, [], 0, None)
    _drain_quietly(wait=SEARCH_DRAIN_WAIT)
    allowed = frozenset(db.session.scalars(permissions.visible_board_ids(viewer)))
    filters = _filters(params, allowed)
    if filters is None or not allowed:
        return Page(params, [], 0, None)
    result = backend().search(Query(
        text=params.q, board_ids=allowed, sort=params.sort, offset=(params.page - 1) * params.per_page,
        limit=params.per_page, scope=scope(viewer), **filters,
    ))
    return Page(params, _items(result.hits, allowed), result.total, result.suggestion)


def suggest(viewer: Viewer, prefix: str, limit: int = 8) -> list[str]:
    """Word completions drawn only from posts ``viewer`` may read."""
    ensure_ready()
    return backend().suggest(prefix[:60], scope(viewer), limit)


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

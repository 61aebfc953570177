"""The search backend protocol, implemented by Whoosh (``whoosh_backend``, the default) and
by PostgreSQL full-text search (``pg_backend``, ``SEARCH_BACKEND=postgres``); views and
services see only these few methods."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Protocol

from markupsafe import Markup


@dataclasses.dataclass
class PostDocument:
    """One post as the index sees it (hidden and deleted posts never become one)."""
    post_id: int
    thread_id: int
    board_id: int
    cluster_id: int | None
    author_id: int | None
    author: str              # username and display name
    title: str
    body: str                # plain text of the rendered Markdown
    tags: list[str]
    created_at: dt.datetime
    is_first: bool
    best_practice: bool = False


@dataclasses.dataclass(frozen=True)
class Scope:
    """What a viewer may read, in the shape an index filters on cheaply: the boards of
    ``cluster_ids`` (``None``: of every cluster) and, with ``platform``, the platform-wide
    boards. ``permissions.readable_board_scope`` makes it; it selects exactly the boards of
    ``permissions.visible_board_ids``."""
    cluster_ids: frozenset[int] | None
    platform: bool


@dataclasses.dataclass
class Query:
    """A search as the backend runs it. ``scope`` (or, without it, ``board_ids``) is the
    permission restriction: only posts there can match, so counts and pages never include
    anything else. ``board_ids`` are the same boards as ids (for a last check of hits)."""
    text: str
    board_ids: frozenset[int]
    cluster_id: int | None = None
    board_id: int | None = None
    tag: str | None = None
    author_id: int | None = None
    date_from: dt.datetime | None = None
    date_to: dt.datetime | None = None
    sort: str = "relevance"          # or "newest"
    offset: int = 0
    limit: int = 20
    scope: Scope | None = None


@dataclasses.dataclass
class Hit:
    post_id: int
    thread_id: int
    board_id: int
    title: str
    snippet_html: Markup
    score: float
    created_at: dt.datetime


@dataclasses.dataclass
class Result:
    hits: list[Hit]
    total: int                        # matching threads the viewer may read (exact)
    suggestion: str | None = None     # "Meinten Sie …?"


@dataclasses.dataclass
class Drift:
    missing: set[int]                 # indexable posts not in the index
    extra: set[int]                   # indexed posts that are gone, hidden or deleted
    moved: set[int]                   # indexed under another board than the database says

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.moved)


class Backend(Protocol):
    def ready(self) -> bool:
        """The index exists and opens."""

    def update(self, documents: Iterable[PostDocument], *, removed_posts: Iterable[int] = (),
               removed_threads: Iterable[int] = (), removed_boards: Iterable[int] = (),
               removed_clusters: Iterable[int] = ()) -> None:
        """One atomic change: remove, then add or replace the documents."""

    def reindex(self, documents: Iterable[PostDocument], progress: Callable[[int], None] | None = None) -> int:
        """Replace everything; returns the number of posts indexed."""

    def indexed(self) -> dict[int, int]:
        """post id → board id of every indexed post (for ``search check``)."""

    def search(self, query: Query) -> Result: ...

    def suggest(self, prefix: str, scope: Scope, limit: int = 8) -> list[str]:
        """Completions for a word being typed, taken only from posts in ``scope``."""

    def warm_up(self) -> None:
        """Reads now what every search reads first, so a new worker's first search is as
        fast as the others."""

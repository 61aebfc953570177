"""The PostgreSQL backend's view of its lexicon (``search_terms``, and ``search_scope_terms``
for the statistics of a viewer's readable scope): document frequencies,
whether a stem is a word of the index, which terms a prefix stands for, which compounds
contain a word and which words lie within a few edits of a typo — what
``forum.search.caches`` answers for Whoosh.

Answers are cached per process. Every write to the index raises the generation and stamps
the terms it changed with it; before each search one query reads the totals and, only if
the generation moved, a second the terms changed since the generation this process last saw
(and a third each scope's totals); just the cached answers those terms could change are dropped. So every
process (and every server) answers from the current index, without reading the whole lexicon again.
"""
from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import Connection, text

from forum.search.caches import CACHE_LIMIT, EXPANSION_SCAN, MAX_CONTAINING
from forum.search.pg_scoring import BODY, TITLE, Stats
from forum.search.query import MAX_EXPANSION
from forum.search.scoring import COMPOUND_EXTRA

FULL_REFRESH = 2000       # more changed terms than this: drop every cached answer
WORD_FIELDS = (TITLE, BODY)


def successor(prefix: str) -> str:
    """The smallest string after every string that starts with ``prefix`` (byte order)."""
    if not prefix or ord(prefix[-1]) >= 0x10FFFF:
        return prefix + "\U0010ffff"
    following = ord(prefix[-1]) + 1
    return prefix[:-1] + chr(0xE000 if 0xD800 <= following < 0xE000 else following)   # no surrogates


def within(a: str, b: str, maxdist: int) -> bool:
    """``edit_distance(a, b) <= maxdist``, giving up as soon as a row exceeds it."""
    if abs(len(a) - len(b)) > maxdist:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > maxdist:
            return False
        previous = current
    return previous[-1] <= maxdist


class Lexicon:
    """Cached answers, shared by the threads of one process; ``view(conn)`` answers with
    a connection for whatever is not cached yet."""

    def __init__(self):
        self.generation = -1
        self.totals: dict[str, int] = {}
        self.scope_totals: dict[int, dict[str, int]] = {}   # scope → docs and summed title/body lengths
        self._lock = threading.Lock()
        self._scoped: dict[tuple[str, str], dict[int, int]] = {}   # (field, term) → scope → df
        self._known: dict[str, bool] = {}
        self._expand: dict[tuple[str, str], list[str]] = {}
        self._contains: dict[tuple[str, str], list[str]] = {}
        self._near: dict[tuple[str, int], list[str]] = {}

    def _caches(self) -> tuple[dict, ...]:
        return self._scoped, self._known, self._expand, self._contains, self._near

    def clear(self) -> None:
        for cache in self._caches():
            cache.clear()

    def refresh(self, conn: Connection) -> None:
        """Takes in what changed since the generation this process saw last."""
        # jit off for the rest of this read: compiling a search's short queries costs more than it saves
        totals = {term: df for term, df in conn.execute(text(
            "SELECT s.term, s.df FROM set_config('jit', 'off', true) AS j LEFT JOIN search_terms s ON s.field = ''"))
            if term is not None}
        generation = totals.get("generation", 0)
        if generation == self.generation:
            return
        changed: list[tuple[str, str]] | None = None
        if self.generation <= generation and totals.get("rebuilt", 0) <= self.generation:
            rows = conn.execute(text("SELECT field, term FROM search_terms WHERE generation > :mine AND field <> '' "
                                     "LIMIT :limit"), {"mine": self.generation, "limit": FULL_REFRESH + 1}).all()
            changed = None if len(rows) > FULL_REFRESH else [tuple(row) for row in rows]
        scope_totals: dict[int, dict[str, int]] = {}
        for scope, term, df in conn.execute(text("SELECT scope, term, df FROM search_scope_terms WHERE field = ''")):
            scope_totals.setdefault(scope, {})[term] = df
        with self._lock:
            if changed is None:
                self.clear()
            else:
                self._forget(changed)
            self.totals = totals
            self.scope_totals = scope_totals
            self.generation = generation

    def _forget(self, changed: list[tuple[str, str]]) -> None:
        by_field: dict[str, list[str]] = {}
        for field, term in changed:
            self._scoped.pop((field, term), None)
            by_field.setdefault(field, []).append(term)
        words = [term for field in WORD_FIELDS for term in by_field.get(field, ())]
        for term in words:
            self._known.pop(term, None)
        for key in list(self._expand):
            if any(term.startswith(key[1]) for term in by_field.get(key[0], ())):
                del self._expand[key]
        for key in list(self._contains):
            if any(key[1] in term for term in by_field.get(key[0], ())):
                del self._contains[key]
        firsts = {term[:1] for term in words}
        for key in list(self._near):
            if key[0][:1] in firsts:
                del self._near[key]

    def remember(self, cache: dict, key, value):
        with self._lock:
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
            cache[key] = value
        return value

    def view(self, conn: Connection) -> LexiconView:
        return LexiconView(self, conn)


class LexiconView:
    """The lexicon's answers for one search, on that search's connection."""

    def __init__(self, lexicon: Lexicon, conn: Connection):
        self.lexicon = lexicon
        self.conn = conn

    def prefetch_scoped(self, pairs: Iterable[tuple[str, str]]) -> None:
        """The document frequencies per scope of several (field, term) at once."""
        cache = self.lexicon._scoped
        wanted = [pair for pair in dict.fromkeys(pairs) if pair not in cache]
        if not wanted:
            return
        found: dict[tuple[str, str], dict[int, int]] = {pair: {} for pair in wanted}
        rows = self.conn.execute(text(
            "SELECT s.field, s.term, s.scope, s.df FROM search_scope_terms s "
            "JOIN unnest(CAST(:fields AS text[]), CAST(:terms AS text[])) AS q(field, term) "
            "ON s.field = q.field AND s.term = q.term WHERE s.df > 0"),
            {"fields": [f for f, _t in wanted], "terms": [t for _f, t in wanted]})
        for field, term, scope, df in rows:
            found[(field, term)][scope] = df
        for pair, per_scope in found.items():
            self.lexicon.remember(cache, pair, per_scope)

    def scoped_df(self, field: str, term: str) -> dict[int, int]:
        """scope → documents of that scope having ``term`` in ``field``."""
        found = self.lexicon._scoped.get((field, term))
        if found is None:
            self.prefetch_scoped([(field, term)])
            found = self.lexicon._scoped.get((field, term), {})
        return found

    def known_in(self, stem: str, readable: Callable[[int], bool]) -> bool:
        """Some post of the ``readable`` scopes has ``stem`` in its title or body."""
        return any(readable(scope) for field in WORD_FIELDS for scope in self.scoped_df(field, stem))

    def stats(self, readable: Callable[[int], bool]) -> Stats:
        """BM25's statistics summed over the ``readable`` scopes only (Issue 15, point 4): the
        posts, their summed quantised field lengths and each term's document frequency, as
        ``forum.search.scoring.ScopeStats`` counts them in Whoosh's segments."""
        totals: dict[str, int] = dict.fromkeys(("docs",) + WORD_FIELDS, 0)
        for scope, values in self.lexicon.scope_totals.items():
            if readable(scope):
                for name in totals:
                    totals[name] += values.get(name, 0)
        scopes = [scope for scope in self.lexicon.scope_totals if readable(scope)]

        def df(field: str, term: str) -> int:
            per_scope = self.scoped_df(field, term)
            return sum(per_scope.get(scope, 0) for scope in scopes)

        return Stats(totals["docs"], {field: totals[field] for field in WORD_FIELDS}, df)

    def prefetch_known(self, stems: Iterable[str]) -> None:
        cache = self.lexicon._known
        wanted = [stem for stem in dict.fromkeys(stems) if stem not in cache]
        if not wanted:
            return
        present = set(self.conn.scalars(text(
            "SELECT DISTINCT term FROM search_terms WHERE field IN ('title', 'body') AND df > 0 "
            "AND term = ANY(CAST(:stems AS text[]))"), {"stems": wanted}))
        for stem in wanted:
            self.lexicon.remember(cache, stem, stem in present)

    def known(self, stem: str) -> bool:
        found = self.lexicon._known.get(stem)
        if found is None:
            self.prefetch_known([stem])
            found = self.lexicon._known.get(stem, False)
        return found

    def scopes(self, readable: Callable[[int], bool]) -> tuple[int, ...] | None:
        """The scopes of ``search_scope_terms`` that ``readable`` picks; ``None`` when that is
        every scope (``search_terms`` then has the same counts, summed)."""
        scopes = tuple(sorted(scope for scope in self.lexicon.scope_totals if readable(scope)))
        return None if len(scopes) == len(self.lexicon.scope_totals) else scopes

    def expand(self, field: str, prefix: str, scopes: tuple[int, ...] | None = None) -> list[str]:
        """The terms of ``field`` that ``prefix`` stands for in the posts of ``scopes`` (see
        ``scopes``): of the first ``EXPANSION_SCAN`` such terms in byte order, the
        ``MAX_EXPANSION`` in most of those posts — counted in the readable scopes only, as
        ``forum.search.expansions`` does for Whoosh (Issue 15, point 4)."""
        key = (field, prefix, scopes)
        found = self.lexicon._expand.get(key)
        if found is None:
            params = {"field": field, "low": prefix, "high": successor(prefix), "scan": EXPANSION_SCAN,
                      "scopes": list(scopes or ())}
            if scopes is None:
                rows = self.conn.execute(text(
                    "SELECT term, df FROM search_terms WHERE field = :field AND term >= :low AND term < :high "
                    "AND df > 0 ORDER BY term LIMIT :scan"), params).all()
            else:
                rows = self.conn.execute(text(
                    "SELECT term, sum(df) FROM search_scope_terms WHERE field = :field AND term >= :low "
                    "AND term < :high AND df > 0 AND scope = ANY(CAST(:scopes AS integer[])) "
                    "GROUP BY term ORDER BY term LIMIT :scan"), params).all()
            best = heapq.nlargest(MAX_EXPANSION, ((df, term) for term, df in rows))
            found = self.lexicon.remember(self.lexicon._expand, key, sorted(term for _df, term in best))
        return found

    def prefetch_contains(self, pairs: Iterable[tuple[str, str]], scopes: tuple[int, ...] | None = None) -> None:
        """``contains`` for several (field, part) at once: one scan of the lexicon (and the
        candidates' counts in the readable scopes)."""
        cache = self.lexicon._contains
        wanted = [pair for pair in dict.fromkeys(pairs) if (*pair, scopes) not in cache]
        if not wanted:
            return
        matching = ("t.field = ANY(CAST(:fields AS text[])) AND t.df > 0 AND length(t.term) >= :shortest "
                    "AND t.term LIKE ANY(CAST(:patterns AS text[]))")
        params = {"fields": sorted({field for field, _part in wanted}),
                  "shortest": min(len(part) for _field, part in wanted) + COMPOUND_EXTRA,
                  "patterns": sorted({"%" + part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                                      for _field, part in wanted}),
                  "scopes": list(scopes or ())}
        if scopes is None:
            rows = self.conn.execute(text(f"SELECT t.field, t.term, t.df FROM search_terms t WHERE {matching}"),
                                     params).all()
        else:
            rows = self.conn.execute(text(
                "SELECT s.field, s.term, sum(s.df) FROM search_terms t JOIN search_scope_terms s "
                f"ON s.field = t.field AND s.term = t.term WHERE {matching} "
                "AND s.scope = ANY(CAST(:scopes AS integer[])) AND s.df > 0 GROUP BY s.field, s.term"), params).all()
        for field, part in wanted:
            shortest = len(part) + COMPOUND_EXTRA
            best = heapq.nlargest(MAX_CONTAINING, ((df, term) for f, term, df in rows
                                                   if f == field and part in term and len(term) >= shortest))
            self.lexicon.remember(cache, (field, part, scopes), sorted(term for _df, term in best))

    def contains(self, field: str, part: str, scopes: tuple[int, ...] | None = None) -> list[str]:
        """The compounds of ``field`` that contain ``part`` and are at least ``COMPOUND_EXTRA``
        letters longer, the ``MAX_CONTAINING`` in most posts of ``scopes`` (see ``scopes``; as
        ``forum.search.expansions.containing_terms``)."""
        key = (field, part, scopes)
        found = self.lexicon._contains.get(key)
        if found is None:
            self.prefetch_contains([(field, part)], scopes)
            found = self.lexicon._contains.get(key, [])
        return found

    def near(self, stem: str, maxdist: int) -> list[str]:
        """Words of the title and body fields within ``maxdist`` edits of ``stem`` with the
        same first letter."""
        key = (stem, maxdist)
        found = self.lexicon._near.get(key)
        if found is None:
            rows = self.conn.scalars(text(
                "SELECT DISTINCT term FROM search_terms WHERE field IN ('title', 'body') AND df > 0 "
                "AND term >= :low AND term < :high AND length(term) BETWEEN :shortest AND :longest"),
                {"low": stem[:1], "high": successor(stem[:1]), "shortest": len(stem) - maxdist,
                 "longest": len(stem) + maxdist}).all()
            words = sorted(w for w in rows if w != stem and within(w, stem, maxdist))
            found = self.lexicon.remember(self.lexicon._near, key, words)
        return found

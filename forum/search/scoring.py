"""Term-at-a-time BM25F over Whoosh's postings: the read path's hot loop.

Whoosh's own matcher trees advance document by document through every sub-query in pure
Python (tens of microseconds per match for a query with synonyms and compound parts), and
collapsing by thread switches off their block-max skipping. Here each term's posting list
is read block by block (once per segment, then kept as numpy arrays) and its BM25F
contribution added to a dense score array of the segment in one vector operation; the
permission scope and the filters are boolean masks, and the grouping by thread is one sort
over the matches — so the cost per matching post is a few nanoseconds, not microseconds,
which is what keeps a search fast at a million posts. The scores are Whoosh's BM25F (same idf, ``B``, ``K1``, boosts),
but with the statistics of the viewer's readable posts (``ScopeStats``: document frequencies,
post count, average lengths), never of the whole index (Issue 15, point 4); only
the coordination bonus is this module's own: a document matching ``m`` of the query's
``n`` word clauses gets ``COORD_BONUS · (m − 1)/(n − 1)`` times its score added.

Two additions for long texts, both by relevance only. Proximity: for a query of several
words, the best ``RERANK`` posts of all segments get ``PROXIMITY`` times the summed idf of the
distinct query words found within ``WINDOW`` positions of each other (their best passage);
positions are read only for those posts. Threads: a thread scores its best post plus
``THREAD_REST`` times its other matching posts (a text over the post limit continues in
replies); the hit and its snippet stay the best post's.

Everything that depends only on a segment (thread ids, dates, field lengths, deleted
documents, the posts of a scope) is cached per segment (``SegmentData``): segments never
change except by deletions, which are part of the cache key.
"""
from __future__ import annotations

import dataclasses
import os
from array import array
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from math import log

import numpy as np
from whoosh import columns, query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.util.times import datetime_to_long

from forum.search import analysis, expansions
from forum.search.query import MAX_EXPANSION

K1 = 1.2
B = {"title": 0.4, "body": 0.75}
DEFAULT_B = 0.75
COORD_BONUS = 1.0
SCOPE_CACHE = 16          # permission scopes (boolean masks, 1 byte per post) kept per segment
SCOPE_DF_CACHE = 4096     # document frequencies within a permission scope kept per segment
CONTAINING_CACHE = 512    # compound look-ups kept per segment
POSTINGS_CACHE = 24 << 20   # bytes of decoded postings kept per segment (Whoosh decodes in Python)
CLASSIC_IDF = True     # Robertson's idf (common words weigh almost nothing) instead of Whoosh's
COMPOUND_EXTRA = 3     # a compound is at least this much longer than the part it contains
PROXIMITY = 2.0        # weight of the proximity bonus (idf of the query words found close together)
WINDOW = 10            # positions (stop words not counted) a passage of close words spans
RERANK = 100           # best posts (of all segments) the proximity bonus is computed for (both backends)
THREAD_REST = 0.1      # a thread's other matching posts add this share of their scores to its best
TEXT_POSITIONS = 400   # words: up to this length a post's positions come from its stored text
PAIRS_SUFFIX = "_pairs"   # the field of a text field's neighbour pairs (title → title_pairs)
PARALLEL_POSTS = 100_000   # segments of at least this many posts, but the largest, are scored in a second thread


_pools: dict[int, ThreadPoolExecutor] = {}


def _pool() -> ThreadPoolExecutor:
    """One helper thread per process (numpy releases the GIL while it scores a segment, so two
    large segments take the time of one on an idle machine). Made on first use in each
    process: a gunicorn worker forked from a preloaded master has no threads of its own."""
    pool = _pools.get(os.getpid())
    if pool is None:
        pool = _pools[os.getpid()] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search-segments")
    return pool


def _read_postings(reader, field: str, text) -> tuple[np.ndarray, np.ndarray]:
    """All (ids, weights) of one term in one segment, deleted documents included (the
    caller's allowed mask leaves them out)."""
    ids, weights = array("i"), array("f")
    try:
        matcher = reader.postings(field, text)
    except Exception:  # term not in this segment
        return _NO_IDS, _NO_WEIGHTS
    matcher = getattr(matcher, "child", matcher)   # FilterMatcher (deletions) → leaf matcher
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        ids.extend(matcher._ids)
        weights.extend(matcher._weights)
        matcher._next_block()
    return np.frombuffer(ids, dtype=np.int32), np.frombuffer(weights, dtype=np.float32)


# -- a segment's columns as numpy arrays --------------------------------------------------------
# Whoosh hands out column values one by one in Python: 3 s per 500,000-post segment, paid by
# every worker's first search. Its column files are plain arrays, read here at once; any other
# layout falls back to Whoosh's own reader.

_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)


_BIG_ENDIAN = {"B": ">u1", "b": ">i1", "H": ">u2", "h": ">i2", "I": ">u4", "i": ">i4", "Q": ">u8", "q": ">i8"}


def _fixed_values(raw, count: int) -> np.ndarray | None:
    """The values of a ``NumericColumn`` (big-endian, one per document, the missing rest 0)."""
    if not isinstance(raw, columns.NumericColumn.Reader) or raw._typecode not in _BIG_ENDIAN:
        return None
    values = np.zeros(count, dtype=np.dtype(_BIG_ENDIAN[raw._typecode]))
    stored = min(raw._count, count)
    values[:stored] = np.frombuffer(raw._dbfile.get(raw._basepos, stored * raw._fixedlen), dtype=values.dtype)
    return values


def _read_lengths(reader, field: str, count: int) -> np.ndarray:
    """A field's length of every document as Whoosh stores it: one byte (a quantised length,
    ``_LENGTH_OF_BYTE`` turns it into words) — a quarter of the memory of float lengths."""
    try:
        perdoc = reader._perdoc
        if perdoc.has_column(_lenfield(field)):
            values = _fixed_values(perdoc.column_reader(_lenfield(field), LENGTHS_COLUMN), count)
        else:   # no post of the segment has a word in this field
            values = np.zeros(count, dtype=np.uint8)
    except (AttributeError, KeyError, OSError, TypeError, ValueError):
        values = None
    if values is not None and values.dtype.itemsize == 1:
        return values.astype(np.uint8, copy=False)
    # ``or 0``: Whoosh answers None, not the default, for a field without any term (a body of
    # emoji only); one such post made every search fail (found by fuzzing).
    return np.fromiter((length_to_byte(reader.doc_field_length(d, field, 0) or 0) for d in range(count)),
                       dtype=np.uint8, count=count)


def _read_date_column(reader, field: str, count: int) -> np.ndarray:
    try:
        values = _fixed_values(reader.column_reader(field, translate=False), count)
    except (AttributeError, OSError, TypeError, ValueError):
        values = None
    if values is not None:
        return values.astype(np.int64)
    return np.fromiter((datetime_to_long(v) for v in reader.column_reader(field)), dtype=np.int64, count=count)


def _read_int_column(reader, field: str, count: int) -> np.ndarray:
    """An ID column of decimal numbers as int32: its bytes at once, parsed digit by digit."""
    try:
        raw = reader.column_reader(field, translate=False)
        if not isinstance(raw, columns.VarBytesColumn.Reader) or count == 0:
            raise TypeError
        lengths = np.frombuffer(raw._lengths, dtype=np.dtype(raw._lengths.typecode)).astype(np.int64)[:count]
        offsets = np.frombuffer(raw._offsets, dtype=np.dtype(raw._offsets.typecode)).astype(np.int64)[:count]
        data = np.frombuffer(raw._dbfile.get(raw._basepos, int(offsets[-1] + lengths[-1])), dtype=np.uint8)
        values = np.zeros(count, dtype=np.int64)
        for digit in range(int(lengths.max())):
            more = lengths > digit
            values[more] = values[more] * 10 + data[offsets[more] + digit] - 48
        if len(lengths) == count and (lengths > 0).all():
            return values.astype(np.int32)
    except (AttributeError, OSError, TypeError, ValueError):
        pass
    return np.fromiter((int(v) for v in reader.column_reader(field)), dtype=np.int32, count=count)


_NO_IDS = np.zeros(0, dtype=np.int32)
_NO_WEIGHTS = np.zeros(0, dtype=np.float32)


class SegmentData:
    """Per-segment columns, read once, as numpy arrays indexed by document number: thread id,
    creation time and field lengths, the live documents, and the documents of each scope.
    Compact types (int32 ids, one byte per field length, float32 postings weights and
    saturations; float64 only in the arithmetic): the columns take 15 bytes per post and one
    more per remembered permission scope, the
    postings cache at most ``POSTINGS_CACHE`` bytes per segment."""

    def __init__(self, reader):
        self.reader = reader
        self.count = count = reader.doc_count_all()
        self.threads = _read_int_column(reader, "thread_id", count)
        self.created = _read_date_column(reader, "created_at", count)
        self.lengths = {field: _read_lengths(reader, field, count) for field in ("title", "body")}
        self.live_count = -1
        self.live = np.ones(count, dtype=bool)
        self._scopes: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
        self._scope_totals: dict[tuple[str, tuple[str, ...]], tuple[int, dict[str, float]]] = {}
        self._scope_df: dict[tuple, int] = {}
        self._lexicons: dict[str, list[str]] = {}
        self._postings: dict[tuple[str, object], tuple[np.ndarray, np.ndarray]] = {}
        self._cached_postings = 0
        self._saturation: dict[tuple[str, object], tuple[float, np.ndarray, np.ndarray]] = {}
        self._containing: dict[tuple[str, str], list[str]] = {}

    def follow(self, reader) -> SegmentData:
        """Takes the segment's newest reader: deletions (edits, removals) change only the
        live mask and the scopes, not the columns or postings read so far. Deletions only
        ever grow, so a thread still on an older searcher never undoes a newer state."""
        live = reader.doc_count()
        self.reader = reader
        if self.live_count == -1 or live < self.live_count:
            mask = np.ones(self.count, dtype=bool)
            if reader.has_deletions():
                deleted = np.fromiter(reader._perdoc.deleted_docs(), dtype=np.intp)
                mask[deleted[deleted < self.count]] = False
            self.live = mask
            self._scopes.clear()
            self._scope_totals.clear()
            self._scope_df.clear()
            self.live_count = live
        return self

    def postings(self, field: str, text) -> tuple[np.ndarray, np.ndarray]:
        """Decoded postings of one term, remembered while the segment lives (it never
        changes; deletions are applied through the allowed mask)."""
        key = (field, text)
        found = self._postings.get(key)
        if found is None:
            found = _read_postings(self.reader, field, text)
            size = found[0].nbytes + found[1].nbytes
            self._make_room(size)
            self._postings[key] = found
            self._cached_postings += size
        return found

    def _make_room(self, size: int) -> None:
        """Postings and saturations share one budget of ``POSTINGS_CACHE`` bytes."""
        if self._cached_postings + size > POSTINGS_CACHE:
            self._postings.clear()
            self._saturation.clear()
            self._cached_postings = 0

    def saturation(self, field: str, text, average: float) -> tuple[np.ndarray, np.ndarray]:
        """A term's documents and BM25's saturated term frequency ``(K1 + 1)·tf / (tf + norm)``
        for each (float32), remembered per average field length (which moves only in its first
        decimal as the index grows): a term then costs one multiply-add per posting, not a
        gather of field lengths and a division each time it is searched."""
        key = (field, text)
        average = round(average, 1) or 1.0
        found = self._saturation.get(key)
        if found is None or found[0] != average:
            ids, weights = self._postings.get(key) or _read_postings(self.reader, field, text)   # not kept twice
            tf = weights.astype(np.float64)
            saturation = ((K1 + 1) * tf / (tf + self.norms(field, average, ids))).astype(np.float32)
            self._make_room(ids.nbytes + saturation.nbytes)
            found = self._saturation[key] = (average, ids, saturation)
            self._cached_postings += ids.nbytes + saturation.nbytes
        return found[1], found[2]

    def norms(self, field: str, average: float, docs: np.ndarray) -> np.ndarray:
        """BM25's length normalisation ``K1·(1 − b + b·length/average)`` of ``docs`` (computed
        for those documents only: a cached array per field would cost 8 bytes per post)."""
        average = round(average, 1) or 1.0
        b = B.get(field, DEFAULT_B)
        return K1 * (1 - b) + (K1 * b / average) * self.field_lengths(field, docs).astype(np.float64)

    def field_lengths(self, field: str, docs) -> np.ndarray:
        """The length in words of ``field`` of ``docs`` (float32, quantised as Whoosh keeps it)."""
        return _LENGTH_OF_BYTE[self.lengths[field][docs]]

    def containing(self, field: str, part: str) -> list[str]:
        """This segment's terms of ``field`` that contain ``part`` and are at least
        ``COMPOUND_EXTRA`` letters longer (compounds, not inflections); one substring scan
        of the segment's lexicon, remembered."""
        key = (field, part)
        found = self._containing.get(key)
        if found is None:
            lexicon = self._lexicons.get(field)
            if lexicon is None:
                lexicon = self._lexicons[field] = [t.decode("utf-8") for t in self.reader.lexicon(field)]
            shortest = len(part) + COMPOUND_EXTRA
            if len(self._containing) >= CONTAINING_CACHE:
                self._containing.clear()
            found = self._containing[key] = [t for t in lexicon if part in t and len(t) >= shortest]
        return found

    def mask(self, field: str, texts: Iterable[str], keep: bool = True) -> np.ndarray:
        """The documents having one of ``texts`` in ``field``, as a boolean mask (``keep``:
        their postings stay in the cache)."""
        found = np.zeros(self.count, dtype=bool)
        for text in texts:
            found[self.term_ids(field, text) if keep else _read_postings(self.reader, field, text)[0]] = True
        return found

    def term_ids(self, field: str, text) -> np.ndarray:
        """The documents having ``text`` in ``field``: from the saturation cache when the term
        was scored (title, body), else from the postings cache."""
        scored = self._saturation.get((field, text))
        return scored[1] if scored is not None else self.postings(field, text)[0]

    def cached_mask(self, field: str, texts: tuple[str, ...]) -> np.ndarray:
        """Like ``mask``, without deleted documents, remembered as the mask alone (the
        permission scopes: a cluster's term has a posting for each of its posts)."""
        key = (field, texts)
        found = self._scopes.get(key)
        if found is None:
            if len(self._scopes) >= SCOPE_CACHE:
                self._scopes.clear()
            found = self._scopes[key] = self.mask(field, texts, keep=False) & self.live
        return found

    def scope_totals(self, scope: tuple[str, tuple[str, ...]]) -> tuple[int, dict[str, float]]:
        """The live posts of a permission scope (``Filters.scope``) in this segment and their
        summed title and body lengths (quantised, as BM25 reads them), remembered."""
        found = self._scope_totals.get(scope)
        if found is None:
            mask = self.cached_mask(*scope)
            found = (int(np.count_nonzero(mask)),
                     {field: float(_LENGTH_OF_BYTE[lengths[mask]].sum(dtype=np.float64))
                      for field, lengths in self.lengths.items()})
            if len(self._scope_totals) >= SCOPE_CACHE:
                self._scope_totals.clear()
            self._scope_totals[scope] = found
        return found

    def scope_has(self, scope: tuple[str, tuple[str, ...]], field: str, text) -> bool:
        """Some live post of the scope in this segment has ``text`` in ``field``: from the
        counts or postings read before, else block by block until the first such post (a
        frequent word needs its first block only), remembered."""
        key = (scope, field, text, "has")
        found = self._scope_df.get(key)
        if found is None:
            counted = self._scope_df.get((scope, field, text))
            mask = self.cached_mask(*scope)
            if counted is not None:
                found = counted > 0
            elif (field, text) in self._postings or (field, text) in self._saturation:
                ids = self.term_ids(field, text)
                found = bool(len(ids)) and bool(mask[ids].any())
            else:
                found = False
                try:
                    matcher = self.reader.postings(field, text)
                except Exception:  # term not in this segment
                    matcher = None
                matcher = getattr(matcher, "child", matcher)
                while matcher is not None and matcher.is_active() and not found:
                    matcher._read_ids()
                    ids = np.asarray(matcher._ids, dtype=np.intp)
                    found = bool(mask[ids[ids < self.count]].any())
                    matcher._next_block()
            if len(self._scope_df) >= SCOPE_DF_CACHE:
                self._scope_df.clear()
            self._scope_df[key] = found
        return found

    def scope_df(self, scope: tuple[str, tuple[str, ...]], field: str, text) -> int:
        """The live posts of a permission scope in this segment having ``text`` in ``field``
        (one count over the term's postings, remembered; the postings stay cached for scoring)."""
        key = (scope, field, text)
        found = self._scope_df.get(key)
        if found is None:
            ids = self.term_ids(field, text)
            found = int(np.count_nonzero(self.cached_mask(*scope)[ids])) if len(ids) else 0
            if len(self._scope_df) >= SCOPE_DF_CACHE:
                self._scope_df.clear()
            self._scope_df[key] = found
        return found


@dataclasses.dataclass
class Filters:
    """Where matches may come from: the permission scope (terms of the ``scope`` field or,
    without them, board ids) and the user's filters."""
    scope_terms: tuple[str, ...] | None = None
    board_ids: tuple[str, ...] = ()
    board_id: str | None = None
    cluster_term: str | None = None
    tag: str | None = None
    author_id: str | None = None
    date_from: object = None
    date_to: object = None

    @property
    def scope(self) -> tuple[str, tuple[str, ...]]:
        """The permission restriction alone, as (field, terms) of ``SegmentData.cached_mask``:
        what the viewer may read, whatever the user's filters narrow it to."""
        return ("scope", self.scope_terms) if self.scope_terms is not None else ("board_id", self.board_ids)

    def allowed(self, seg: SegmentData) -> np.ndarray:
        """The segment's documents the viewer may find with these filters (boolean mask)."""
        docs = seg.cached_mask(*self.scope)
        for field, value in (("board_id", self.board_id), ("scope", self.cluster_term), ("tags", self.tag),
                             ("author_id", self.author_id)):
            if value is not None:
                docs = docs & seg.mask(field, (value,))
        if self.date_from:
            docs = docs & (seg.created >= datetime_to_long(self.date_from))
        if self.date_to:
            docs = docs & (seg.created <= datetime_to_long(self.date_to))
        return docs


class ScopeStats:
    """BM25's collection statistics over the posts the viewer may read, never the whole index
    (Issue 15, point 4: a document frequency of the whole index told an outsider whether
    another cluster uses a word): the readable live posts, their average title and body
    lengths (of the quantised lengths BM25 normalises with) and, per term, the readable posts
    having it. Summed over the segments from what each remembers per scope, so a term costs
    one count over its postings per segment and scope, once; sums per index generation go to
    ``cache``. What ``Scorer`` reads from a searcher, answered for one scope."""

    def __init__(self, searcher, segments, filters: Filters, cache: dict | None = None):
        self.scope = filters.scope
        self.segs = [segments(leaf.reader()) for leaf, _offset in searcher.leaf_searchers()]
        self._cache = {} if cache is None else cache
        self.docs = 0
        lengths: dict[str, float] = dict.fromkeys(B, 0.0)
        for seg in self.segs:
            docs, sums = seg.scope_totals(self.scope)
            self.docs += docs
            for field, total in sums.items():
                lengths[field] = lengths.get(field, 0.0) + total
        self._average = {field: total / self.docs if self.docs else 0.0 for field, total in lengths.items()}

    def doc_count_all(self) -> int:
        return self.docs

    def avg_field_length(self, field: str) -> float:
        return self._average.get(field, 0.0)

    def known(self, stem: str) -> bool:
        """Some readable post has ``stem`` in its title or body: what splits a typed compound
        and decides whether other compounds stand in for it (``forum.search.query``), so a
        word only another cluster uses changes nothing."""
        key = (self.scope, "", stem)
        found = self._cache.get(key)
        if found is None:
            found = any(seg.scope_has(self.scope, field, stem) for field in ("title", "body") for seg in self.segs)
            if len(self._cache) >= SCOPE_DF_CACHE:
                self._cache.clear()
            self._cache[key] = found
        return found

    def expand(self, field: str, prefix: str) -> list:
        """The terms ``prefix`` stands for (``query.Expand``), chosen by readable posts only
        (``forum.search.expansions``); remembered per index generation."""
        return self._remembered((self.scope, "expand", field, prefix),
                                lambda: expansions.prefix_terms(self.segs, self.scope, field, prefix, MAX_EXPANSION))

    def contains(self, field: str, part: str) -> list[str]:
        """The compounds a word inside compounds stands for, chosen by readable posts only."""
        return self._remembered((self.scope, "contains", field, part),
                                lambda: expansions.containing_terms(self.segs, self.scope, field, part))

    def _remembered(self, key, compute):
        found = self._cache.get(key)
        if found is None:
            found = compute()
            if len(self._cache) >= SCOPE_DF_CACHE:
                self._cache.clear()
            self._cache[key] = found
        return found

    def doc_frequency(self, field: str, text) -> int:
        key = (self.scope, field, text)
        found = self._cache.get(key)
        if found is None:
            found = sum(seg.scope_df(self.scope, field, text) for seg in self.segs)
            if len(self._cache) >= SCOPE_DF_CACHE:
                self._cache.clear()
            self._cache[key] = found
        return found


class Scorer:
    """Scores a query (as ``forum.search.query`` builds it) on one segment, into one dense
    array of scores per document: each term's postings are added with one vector operation."""

    def __init__(self, searcher, doc_frequency=None):
        self.searcher = searcher   # or a ``ScopeStats``: document count, average lengths, frequencies
        self.doc_frequency = doc_frequency or searcher.doc_frequency   # (field, text) → posts; cached per generation
        self._idf: dict[tuple[str, object], float] = {}
        self._weights: dict[tuple, list[float]] = {}
        self._avg: dict[str, float] = {}
        self.allowed: np.ndarray = np.zeros(0, dtype=bool)   # the segment's visible posts (phrases check only these)

    def for_segment(self, allowed: np.ndarray) -> Scorer:
        """A scorer for one segment's visible posts (phrases look at those only), sharing
        this one's document frequencies; segments may be scored in parallel threads."""
        scorer = Scorer(self.searcher, self.doc_frequency)
        scorer._idf, scorer._avg, scorer.allowed = self._idf, self._avg, allowed
        return scorer

    def prepare(self, q: wq.Query) -> bool:
        """Looks up, in this thread, everything of ``q`` that reads the whole index (document
        frequencies and average lengths go through every segment's files), so that segments
        can then be scored in parallel threads, each reading only its own segment's files
        (Whoosh's files are not safe to read from two threads at once). False when ``q`` has
        a part scored through Whoosh's matchers, which read the whole index while scoring."""
        for leaf in q.leaves():
            if isinstance(leaf, wq.Term):
                self._idf_of(leaf.fieldname, leaf.text)
            elif isinstance(leaf, wq.Phrase) and leaf.words and not leaf.char_ranges:
                for word in leaf.words:
                    self._idf_of(leaf.fieldname, word)
            elif not (leaf is wq.NullQuery or isinstance(leaf, type(wq.NullQuery))):
                return False
            if leaf.field() is not None and leaf.field() not in self._avg:
                self._avg[leaf.field()] = self.searcher.avg_field_length(leaf.field()) or 1.0
        return True

    def _term(self, seg: SegmentData, field: str, text, boost: float, acc: np.ndarray,
              touched: list | None = None) -> None:
        idf = self._idf_of(field, text)
        if field not in seg.lengths:   # a field without BM25 length (author): weight × idf × boost
            ids, weights = seg.postings(field, text)
            if len(ids):
                acc[ids] += boost * idf * weights.astype(np.float64)
        else:
            if field not in self._avg:
                self._avg[field] = self.searcher.avg_field_length(field) or 1.0
            ids, saturation = seg.saturation(field, text, self._avg[field])
            if len(ids):
                ids = ids.astype(np.intp)   # kept as int32; numpy indexes twice as fast with intp
                acc[ids] += saturation * (idf * boost)
        if touched is not None and len(ids):
            touched.append(ids)

    def scores(self, q: wq.Query, leaf, seg: SegmentData, boost: float = 1.0,
               acc: np.ndarray | None = None, touched: list | None = None) -> np.ndarray:
        """Scores per document of the segment (0 where ``q`` does not match). With ``touched``,
        the arrays of document numbers that got a score are appended to it (coordination
        counts matched clauses from them, without a pass over the whole segment)."""
        acc = np.zeros(seg.count) if acc is None else acc
        boost *= getattr(q, "boost", 1.0)
        if isinstance(q, wq.Term):
            self._term(seg, q.fieldname, q.text, boost, acc, touched)
        elif isinstance(q, wq.AndNot):
            positive = self.scores(q.a, leaf, seg, boost)
            positive[self.scores(q.b, leaf, seg) > 0] = 0.0
            acc += positive
            if touched is not None:
                touched.append(np.flatnonzero(positive))
        elif _coordinated_or(q):
            ids, scores = self._coordinated(q.subqueries, leaf, seg, boost)
            acc[ids] += scores
            if touched is not None:
                touched.append(ids)
        elif isinstance(q, wq.Or):
            for sub in q.subqueries:
                self.scores(sub, leaf, seg, boost, acc, touched)
        elif q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            pass
        elif isinstance(q, wq.Phrase) and q.words and not q.char_ranges:
            self._phrase(seg, q, boost, acc, touched)
        else:   # anything else: Whoosh's matcher, scored with its BM25F
            matcher = q.matcher(leaf, leaf.context())
            ids = []
            while matcher.is_active():
                acc[matcher.id()] += boost * matcher.score()
                ids.append(matcher.id())
                matcher.next()
            if touched is not None and ids:
                touched.append(np.array(ids, dtype=np.int32))
        return acc

    def matches(self, q: wq.Query, leaf, seg: SegmentData) -> tuple[np.ndarray, np.ndarray]:
        """The documents ``q`` matches in the segment (ascending) and their scores. A query of
        several words is scored sparsely (``_coordinated``), anything else through a dense
        score array."""
        if _coordinated_or(q):
            return self._coordinated(q.subqueries, leaf, seg, getattr(q, "boost", 1.0))
        if isinstance(q, wq.AndNot):
            ids, scores = self.matches(q.a, leaf, seg)
            keep = self.scores(q.b, leaf, seg)[ids] == 0
            return ids[keep], scores[keep]
        dense = self.scores(q, leaf, seg)
        ids = np.flatnonzero(dense > 0)
        return ids, dense[ids]

    def _coordinated(self, clauses, leaf, seg: SegmentData, boost: float) -> tuple[np.ndarray, np.ndarray]:
        """OR with the coordination bonus, as (documents, scores): every clause adds its scores
        to one sum and sets its bit in a small word per document for each document it touched
        (a posting list's length of work; a document with several of a clause's terms sets the
        bit again). The clauses a document matched are the bits set, and the factor for them
        is applied to the matched documents only — not whole score arrays compared per clause
        (a pass over all of the segment's posts for each word of a long question)."""
        total = np.zeros(seg.count)
        width = min(len(clauses), 64)
        dtype = np.uint8 if width <= 8 else np.uint16 if width <= 16 else np.uint32 if width <= 32 else np.uint64
        bits = [np.zeros(seg.count, dtype=dtype) for _word in range(0, len(clauses), 64)]
        for index, clause in enumerate(clauses):
            found: list[np.ndarray] = []
            self.scores(clause, leaf, seg, boost, total, found)
            word, bit = bits[index // 64], dtype(1 << (index % 64))
            for ids in found:
                word[ids] |= bit
        touched = bits[0] != 0
        for word in bits[1:]:
            touched |= word != 0
        ids = np.flatnonzero(touched)
        matched = np.bitwise_count(bits[0][ids]).astype(np.intp)
        for word in bits[1:]:
            matched += np.bitwise_count(word[ids])
        factors = 1 + COORD_BONUS * (np.arange(len(clauses) + 1) - 1) / max(1, len(clauses) - 1)
        return ids, total[ids] * factors[matched]

    def _idf_of(self, field: str, text) -> float:
        key = (field, text)
        idf = self._idf.get(key)
        if idf is None:
            df, count = self.doc_frequency(field, text), self.searcher.doc_count_all()
            idf = self._idf[key] = (log(1 + (count - df + 0.5) / (df + 0.5)) if CLASSIC_IDF
                                    else log(count / (df + 1)) + 1)
        return idf

    def _phrase(self, seg: SegmentData, q: wq.Phrase, boost: float, acc: np.ndarray,
                touched: list | None = None) -> None:
        """Words next to each other (stop words between them not counted): the posts having
        every neighbour pair of the phrase (``analysis.pairs``), as often as its rarest pair;
        BM25 of that count with the words' summed idf. Slop is not supported (the query
        parser never asks for it)."""
        field, words = q.fieldname, list(q.words)
        ids = counts = None
        for left, right in pairwise(words):
            pair_ids, pair_counts = seg.postings(field + PAIRS_SUFFIX, f"{left}{analysis.PAIR}{right}")
            if ids is None:
                ids, counts = pair_ids, pair_counts
            else:
                ids, first, second = np.intersect1d(ids, pair_ids, assume_unique=True, return_indices=True)
                counts = np.minimum(counts[first], pair_counts[second])
            if not len(ids):
                return
        visible = self.allowed[ids] if len(self.allowed) else np.zeros(len(ids), dtype=bool)
        ids, counts = ids[visible], counts[visible].astype(np.float64)
        if not len(ids):
            return
        if field not in self._avg:
            self._avg[field] = self.searcher.avg_field_length(field) or 1.0
        top = sum(self._idf_of(field, word) for word in words) * (K1 + 1) * boost
        acc[ids] += top * counts / (counts + seg.norms(field, self._avg[field], ids))
        if touched is not None:
            touched.append(ids)

    def proximity(self, seg: SegmentData, groups: list[tuple[str, ...]], docs: list[int]) -> dict[int, float]:
        """For a query of several words: per document, the summed idf of the distinct words
        found within ``WINDOW`` positions of each other (the best such passage), when it is at
        least two words. Positions are read only for ``docs``: for a post of up to
        ``TEXT_POSITIONS`` words by analysing its stored text again (a few microseconds), for a
        longer one from the index (Whoosh's matchers walk a frequent word's posting list block
        by block, a millisecond and more per word at a million posts). Both give the same
        positions."""
        weights = self._weights.get(tuple(groups))
        if weights is None:   # an absent spelling variant would have the highest idf
            weights = self._weights[tuple(groups)] = [
                max((self._idf_of("body", t) for t in group if self.doc_frequency("body", t)), default=0.0)
                for group in groups]
        wanted: dict[str, list[int]] = {}
        for index, group in enumerate(groups):
            for term in group:
                wanted.setdefault(term, []).append(index)
        lengths = dict(zip(docs, seg.field_lengths("body", np.array(docs, dtype=np.intp)).tolist(), strict=True))
        short = [d for d in docs if lengths[d] <= TEXT_POSITIONS]
        hits = {d: analysis.positions(seg.reader.stored_fields(d).get("body", ""), wanted) for d in short}
        ordered = sorted(d for d in docs if lengths[d] > TEXT_POSITIONS)
        for d in ordered:
            hits[d] = []
        for term, indexes in wanted.items() if ordered else ():
            if not seg.reader.doc_frequency("body", term):
                continue
            matcher = seg.reader.postings("body", term)
            matcher = getattr(matcher, "child", matcher)
            for d in ordered:
                if not matcher.is_active():
                    break
                if matcher.id() < d:
                    matcher.skip_to(d)
                if matcher.is_active() and matcher.id() == d:
                    hits[d].extend((p, index) for p in matcher.value_as("positions") for index in indexes)
        return passage_bonus(hits, weights)


def _coordinated_or(q: wq.Query) -> bool:
    """An OR of several clauses with the bonus for matching more of them (a query's words)."""
    return isinstance(q, wq.Or) and bool(q.scale) and len(q.subqueries) > 1


@dataclasses.dataclass
class Best:
    """The best visible matching post of each thread, as parallel arrays: the sort key (score,
    or creation time for "newest first"), the global document number and the score."""
    keys: np.ndarray      # float scores, or int64 creation times (microseconds)
    docnums: np.ndarray
    scores: np.ndarray
    newest: bool

    def __len__(self) -> int:
        return len(self.keys)

    def top(self, n: int) -> list[tuple[float, int, float]]:
        """The ``n`` best threads as (key, docnum, score), best first; equal keys: by relevance
        the earlier document first, by date the later one."""
        keys, docnums = self.keys, self.docnums
        if len(keys) > n > 0:   # narrow to the n best keys (ties at the border kept) before sorting
            border = np.partition(keys, len(keys) - n)[len(keys) - n]
            chosen = np.flatnonzero(keys >= border)
        else:
            chosen = np.arange(len(keys))
        tiebreak = -docnums[chosen] if self.newest else docnums[chosen]
        order = chosen[np.lexsort((tiebreak, -keys[chosen]))][:n]
        return list(zip(keys[order].tolist(), docnums[order].tolist(), self.scores[order].tolist(), strict=True))


def best_per_thread(searcher, scorer: Scorer, segments, q: wq.Query, filters: Filters,
                    newest: bool, groups: list[tuple[str, ...]] | None = None) -> Best:
    """The best visible matching post of every thread (``Best``).

    By relevance, the best ``RERANK`` posts of all segments get the proximity bonus when the
    query has several words (``groups``), and a thread's score is its best post's plus
    ``THREAD_REST`` times the sum of its other matching posts' (a long text continued in
    replies keeps the evidence of all its parts); the hit stays the best post."""
    def score(leaf, offset: int):
        seg = segments(leaf.reader())
        allowed = filters.allowed(seg)
        if not allowed.any():
            return None
        own = scorer.for_segment(allowed)
        ids, scores = own.matches(q, leaf, seg)
        keep = allowed[ids] & (scores > 0)
        return (seg, offset, ids[keep], scores[keep]) if keep.any() else None

    leaves = list(searcher.leaf_searchers())
    # every large segment but the largest goes to the helper thread (the second core) while
    # this thread scores the largest and the small ones
    large = sorted((i for i, (leaf, _o) in enumerate(leaves) if leaf.reader().doc_count_all() >= PARALLEL_POSTS),
                   key=lambda i: -leaves[i][0].reader().doc_count_all())[1:]
    if large and not scorer.prepare(q):
        large = []
    pending = {i: _pool().submit(score, *leaves[i]) for i in large}
    results = [None if i in pending else score(*leaves[i]) for i in range(len(leaves))]
    for i, future in pending.items():
        results[i] = future.result()
    found = [result for result in results if result is not None]
    if not newest and groups and len(groups) > 1:
        _add_proximity(scorer, groups, found)
    parts = [(seg.threads[matched], seg.created[matched] if newest else chosen, matched + offset, chosen)
             for seg, offset, matched, chosen in found]
    if not parts:
        return Best(np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0), newest)
    threads, keys, docnums, scores = (np.concatenate(column) for column in zip(*parts, strict=True))
    return group_by_thread(threads, keys, docnums, scores, newest)


def group_by_thread(threads: np.ndarray, keys: np.ndarray, docnums: np.ndarray, scores: np.ndarray,
                    newest: bool) -> Best:
    """Matching posts (parallel arrays) → the best post of each thread (``Best``): highest key,
    ties to the earliest document (by date: the latest); by relevance the thread's key and
    score add ``THREAD_REST`` times its other posts' scores."""
    slot, slots = _thread_slots(threads)
    # the best key per thread, then among posts with that key the earliest document (by date:
    # the latest): scatter-max and scatter-min over thread slots, no sort of all matches
    low = np.iinfo(np.int64).min if newest else -np.inf
    best_key = np.full(slots, low, dtype=keys.dtype)
    np.maximum.at(best_key, slot, keys)
    tied = np.flatnonzero(keys == best_key[slot])
    sentinel = -1 if newest else np.iinfo(np.int64).max
    best_doc = np.full(slots, sentinel, dtype=np.int64)
    (np.maximum if newest else np.minimum).at(best_doc, slot[tied], docnums[tied])
    chosen = tied[docnums[tied] == best_doc[slot[tied]]]   # one post per thread
    best_keys, best_docnums, best_scores = keys[chosen], docnums[chosen], scores[chosen]
    if not newest:
        rest = np.bincount(slot, weights=scores, minlength=slots)[slot[chosen]] - best_scores
        best_keys = best_keys + THREAD_REST * rest
        best_scores = best_scores + THREAD_REST * rest
    return Best(best_keys, best_docnums, best_scores, newest)


def _thread_slots(threads: np.ndarray) -> tuple[np.ndarray, int]:
    """Each match's thread as a slot number for scatter operations, and the number of slots:
    the thread id itself while the ids are dense enough, else its rank among the matched
    threads (a sort, only for sparse ids)."""
    largest = int(threads.max())
    if largest < 4 * len(threads) + 65_536:
        return threads.astype(np.intp), largest + 1
    unique, inverse = np.unique(threads, return_inverse=True)
    return inverse.astype(np.intp), len(unique)


def _add_proximity(scorer: Scorer, groups: list[tuple[str, ...]], found: list) -> None:
    """The proximity bonus for the ``RERANK`` best matches of all segments together (positions
    are read through Whoosh's Python matchers, so only for a few posts, however many match)."""
    scores = np.concatenate([chosen for _seg, _offset, _matched, chosen in found]) if found else np.zeros(0)
    if len(scores) > RERANK:
        border = np.partition(scores, len(scores) - RERANK)[len(scores) - RERANK]
    else:
        border = -np.inf
    for seg, _offset, matched, chosen in found:
        best = np.flatnonzero(chosen >= border)[:RERANK]
        if not len(best):
            continue
        where = dict(zip(matched[best].tolist(), best.tolist(), strict=True))
        for d, extra in scorer.proximity(seg, groups, list(where)).items():
            chosen[where[d]] += extra


# -- shared by the Whoosh scorer above and forum/search/pg_scoring.py -----------------------------

def passage_bonus(hits: dict[int, list[tuple[int, int]]], weights: list[float]) -> dict[int, float]:
    """Per document, ``PROXIMITY`` × the summed weight of the distinct query words found within
    ``WINDOW`` positions of each other (the best such passage), when it is at least two words.
    ``hits`` maps a document to its (position, word index) pairs."""
    bonus: dict[int, float] = {}
    for d, found in hits.items():
        if len(found) < 2:
            continue
        found.sort()
        counts = [0] * len(weights)
        best = current = 0.0
        distinct = low = 0
        for position, index in found:
            if counts[index] == 0:
                current += weights[index]
                distinct += 1
            counts[index] += 1
            while found[low][0] <= position - WINDOW:
                gone = found[low][1]
                counts[gone] -= 1
                if counts[gone] == 0:
                    current -= weights[gone]
                    distinct -= 1
                low += 1
            if distinct >= 2 and current > best:
                best = current
        if best:
            bonus[d] = PROXIMITY * best
    return bonus


def coordinate(parts: list[dict[int, float]], clauses: int, acc: dict[int, float]) -> None:
    """Adds the clause scores per document to ``acc``, with a bonus for each further clause a
    document matches (OR-matching that prefers documents with more of the words)."""
    parts = sorted(parts, key=len, reverse=True)
    total = dict(parts[0])                     # the largest clause is copied, not looped over
    matched = dict.fromkeys(parts[0], 1)
    for part in parts[1:]:
        for d, s in part.items():
            total[d] = total.get(d, 0.0) + s
            matched[d] = matched.get(d, 0) + 1
    spread = max(1, clauses - 1)
    for d, s in total.items():
        acc[d] = acc.get(d, 0.0) + s * (1 + COORD_BONUS * (matched[d] - 1) / spread)

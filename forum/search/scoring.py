"""Term-at-a-time BM25F over Whoosh's postings: the read path's hot loop.

Whoosh's own matcher trees advance document by document through every sub-query in pure
Python (tens of microseconds per match for a query with synonyms and compound parts), and
collapsing by thread switches off their block-max skipping. Here each term's posting list
is read block by block and its BM25F contribution added to one score per document; the
permission scope, the filters and the grouping by thread are set operations and one pass
over the matches. The scores are Whoosh's BM25F (same idf, ``B``, ``K1``, boosts); only
the coordination bonus is this module's own: a document matching ``m`` of the query's
``n`` word clauses gets ``COORD_BONUS · (m − 1)/(n − 1)`` times its score added.

Two additions for long texts, both by relevance only. Proximity: for a query of several
words, the best ``RERANK`` posts of a segment get ``PROXIMITY`` times the summed idf of the
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
import heapq
from array import array
from collections.abc import Iterable
from math import log

from whoosh import query as wq
from whoosh.util.times import datetime_to_long

K1 = 1.2
B = {"title": 0.4, "body": 0.75}
DEFAULT_B = 0.75
COORD_BONUS = 1.0
SCOPE_CACHE = 64
POSTINGS_CACHE = 3_000_000   # decoded postings kept per segment (Whoosh decodes in Python)
CLASSIC_IDF = True     # Robertson's idf (common words weigh almost nothing) instead of Whoosh's
COMPOUND_EXTRA = 3     # a compound is at least this much longer than the part it contains
PROXIMITY = 2.0        # weight of the proximity bonus (idf of the query words found close together)
WINDOW = 10            # positions (stop words not counted) a passage of close words spans
RERANK = 40            # best posts per segment the proximity bonus is computed for
THREAD_REST = 0.1      # a thread's other matching posts add this share of their scores to its best


def _read_postings(reader, field: str, text) -> tuple[array, array]:
    """All (ids, weights) of one term in one segment, deleted documents included (the
    caller's allowed set leaves them out)."""
    ids, weights = array("i"), array("f")
    try:
        matcher = reader.postings(field, text)
    except Exception:  # term not in this segment
        return ids, weights
    matcher = getattr(matcher, "child", matcher)   # FilterMatcher (deletions) → leaf matcher
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        ids.extend(matcher._ids)
        weights.extend(matcher._weights)
        matcher._next_block()
    return ids, weights


class SegmentData:
    """Per-segment columns, read once: thread id, creation time and field lengths by
    document number, the deleted documents, and the documents of each scope."""

    def __init__(self, reader):
        self.reader = reader
        count = reader.doc_count_all()
        self.threads = [int(v) for v in reader.column_reader("thread_id")]
        self.created = [datetime_to_long(v) for v in reader.column_reader("created_at")]
        # ``or 0``: Whoosh answers None, not the default, for a field without any term (a body of
        # emoji only); one such post made every search fail (found by fuzzing).
        self.lengths = {field: [reader.doc_field_length(d, field, 0) or 0 for d in range(count)]
                        for field in ("title", "body")}
        self.live = -1
        self.deleted: frozenset[int] = frozenset()
        self._scopes: dict[tuple[str, tuple[str, ...]], frozenset[int]] = {}
        self._lexicons: dict[str, list[str]] = {}
        self._norms: dict[tuple, list[float]] = {}
        self._postings: dict[tuple[str, object], tuple[array, array]] = {}
        self._cached_postings = 0
        self._containing: dict[tuple[str, str], list[str]] = {}

    def follow(self, reader) -> SegmentData:
        """Takes the segment's newest reader: deletions (edits, removals) change only the
        deleted set and the scopes, not the columns or postings read so far. Deletions only
        ever grow, so a thread still on an older searcher never undoes a newer state."""
        live = reader.doc_count()
        self.reader = reader
        if self.live == -1 or live < self.live:
            self.deleted = frozenset(reader._perdoc.deleted_docs()) if reader.has_deletions() else frozenset()
            self._scopes.clear()
            self.live = live
        return self

    def postings(self, field: str, text) -> tuple[array, array]:
        """Decoded postings of one term, remembered while the segment lives (it never
        changes; deletions are applied through the allowed set)."""
        key = (field, text)
        found = self._postings.get(key)
        if found is None:
            found = _read_postings(self.reader, field, text)
            if self._cached_postings + len(found[0]) > POSTINGS_CACHE:
                self._postings.clear()
                self._cached_postings = 0
            self._postings[key] = found
            self._cached_postings += len(found[0])
        return found

    def norms(self, field: str, average: float) -> list[float]:
        """BM25's length normalisation ``K1·(1 − b + b·length/average)`` per document; the
        average is rounded so that a few new posts do not recompute it."""
        average = round(average, 1) or 1.0
        key = (field, average, K1, B.get(field, DEFAULT_B))
        found = self._norms.get(key)
        if found is None:
            b = B.get(field, DEFAULT_B)
            base, per_length = K1 * (1 - b), K1 * b / average
            self._norms = {key: [base + per_length * n for n in self.lengths[field]],
                           **{k: v for k, v in self._norms.items() if k[0] != field}}
            found = self._norms[key]
        return found

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
            if len(self._containing) >= SCOPE_CACHE * 8:
                self._containing.clear()
            found = self._containing[key] = [t for t in lexicon if part in t and len(t) >= shortest]
        return found

    def docs(self, field: str, texts: Iterable[str]) -> set[int]:
        found: set[int] = set()
        for text in texts:
            found.update(self.postings(field, text)[0])
        return found

    def cached_docs(self, field: str, texts: tuple[str, ...]) -> frozenset[int]:
        key = (field, texts)
        found = self._scopes.get(key)
        if found is None:
            if len(self._scopes) >= SCOPE_CACHE:
                self._scopes.clear()
            found = self._scopes[key] = frozenset(self.docs(field, texts) - self.deleted)
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

    def allowed(self, seg: SegmentData) -> frozenset[int] | set[int]:
        docs = (seg.cached_docs("scope", self.scope_terms) if self.scope_terms is not None
                else seg.cached_docs("board_id", self.board_ids))
        for field, value in (("board_id", self.board_id), ("scope", self.cluster_term), ("tags", self.tag),
                             ("author_id", self.author_id)):
            if value is not None and docs:
                docs = docs & seg.docs(field, (value,))
        if (self.date_from or self.date_to) and docs:
            low = datetime_to_long(self.date_from) if self.date_from else None
            high = datetime_to_long(self.date_to) if self.date_to else None
            created = seg.created
            docs = {d for d in docs if (low is None or created[d] >= low) and (high is None or created[d] <= high)}
        return docs


class Scorer:
    """Scores a query (as ``forum.search.query`` builds it) on one segment."""

    def __init__(self, searcher):
        self.searcher = searcher
        self._idf: dict[tuple[str, object], float] = {}
        self._avg: dict[str, float] = {}
        self.allowed: frozenset[int] | set[int] = frozenset()   # the segment's visible posts (phrases check only these)

    def _term(self, seg: SegmentData, field: str, text, boost: float, acc: dict[int, float]) -> None:
        idf = self._idf_of(field, text)
        if field not in self._avg:
            self._avg[field] = self.searcher.avg_field_length(field) or 1.0
        lengths = seg.lengths.get(field)
        get = acc.get
        if lengths is None:   # a field without BM25 length (author): weight × idf × boost
            ids, weights = seg.postings(field, text)
            for d, w in zip(ids, weights):
                acc[d] = get(d, 0.0) + boost * idf * w
            return
        top = idf * (K1 + 1) * boost
        norms = seg.norms(field, self._avg[field])
        ids, weights = seg.postings(field, text)
        for d, w in zip(ids, weights):
            acc[d] = get(d, 0.0) + top * w / (w + norms[d])

    def scores(self, q: wq.Query, leaf, seg: SegmentData, boost: float = 1.0,
               acc: dict[int, float] | None = None) -> dict[int, float]:
        acc = {} if acc is None else acc
        boost *= getattr(q, "boost", 1.0)
        if isinstance(q, wq.Term):
            self._term(seg, q.fieldname, q.text, boost, acc)
        elif isinstance(q, wq.AndNot):
            positive = self.scores(q.a, leaf, seg, boost)
            for d in self.scores(q.b, leaf, seg):
                positive.pop(d, None)
            self._merge(acc, positive)
        elif isinstance(q, wq.Or) and q.scale:
            self._coordinated(q.subqueries, leaf, seg, boost, acc)
        elif isinstance(q, wq.Or):
            for sub in q.subqueries:
                self.scores(sub, leaf, seg, boost, acc)
        elif q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            pass
        elif isinstance(q, wq.Phrase) and q.words and not q.char_ranges:
            self._phrase(seg, q, boost, acc)
        else:   # anything else: Whoosh's matcher, scored with its BM25F
            matcher = q.matcher(leaf, leaf.context())
            while matcher.is_active():
                d = matcher.id()
                acc[d] = acc.get(d, 0.0) + boost * matcher.score()
                matcher.next()
        return acc

    def _idf_of(self, field: str, text) -> float:
        key = (field, text)
        idf = self._idf.get(key)
        if idf is None:
            df, count = self.searcher.doc_frequency(field, text), self.searcher.doc_count_all()
            idf = self._idf[key] = (log(1 + (count - df + 0.5) / (df + 0.5)) if CLASSIC_IDF
                                    else log(count / (df + 1)) + 1)
        return idf

    def _phrase(self, seg: SegmentData, q: wq.Phrase, boost: float, acc: dict[int, float]) -> None:
        """Words at consecutive positions (within ``slop``): candidates from the cached
        postings, positions read only for them; BM25 of the phrase count with the words'
        summed idf."""
        field, words = q.fieldname, list(q.words)
        lists = [seg.postings(field, word)[0] for word in words]
        if not all(lists):
            return
        candidates = sorted(set(lists[0]).intersection(*lists[1:], self.allowed))
        if not candidates:
            return
        positions: list[dict[int, set[int]]] = []
        for word in words:
            matcher = seg.reader.postings(field, word)
            matcher = getattr(matcher, "child", matcher)
            found: dict[int, set[int]] = {}
            for d in candidates:
                if not matcher.is_active():
                    break
                matcher.skip_to(d)
                if matcher.is_active() and matcher.id() == d:
                    found[d] = set(matcher.value_as("positions"))
            positions.append(found)
        if field not in self._avg:
            self._avg[field] = self.searcher.avg_field_length(field) or 1.0
        norms = seg.norms(field, self._avg[field])
        top = sum(self._idf_of(field, word) for word in words) * (K1 + 1) * boost
        slop = max(1, q.slop)
        for d in candidates:
            starts = positions[0].get(d, ())
            count = 0
            for start in starts:
                at = start
                for following in positions[1:]:
                    near = following.get(d, ())
                    at = next((at + step for step in range(1, slop + 1) if at + step in near), None)
                    if at is None:
                        break
                else:
                    count += 1
            if count:
                acc[d] = acc.get(d, 0.0) + top * count / (count + norms[d])

    def proximity(self, seg: SegmentData, groups: list[tuple[str, ...]], docs: list[int]) -> dict[int, float]:
        """For a query of several words: per document, the summed idf of the distinct words
        found within ``WINDOW`` positions of each other (the best such passage), when it is at
        least two words. Positions are read only for ``docs``."""
        weights = [max((self._idf_of("body", t) for t in group if self.searcher.doc_frequency("body", t)), default=0.0)
                   for group in groups]   # an absent spelling variant would have the highest idf
        hits: dict[int, list[tuple[int, int]]] = {d: [] for d in docs}
        ordered = sorted(docs)
        for index, group in enumerate(groups):
            for term in group:
                if not seg.postings("body", term)[0]:
                    continue
                matcher = seg.reader.postings("body", term)
                matcher = getattr(matcher, "child", matcher)
                for d in ordered:
                    if not matcher.is_active():
                        break
                    if matcher.id() < d:
                        matcher.skip_to(d)
                    if matcher.is_active() and matcher.id() == d:
                        hits[d].extend((p, index) for p in matcher.value_as("positions"))
        return passage_bonus(hits, weights)

    def _coordinated(self, clauses, leaf, seg, boost: float, acc: dict[int, float]) -> None:
        coordinate([self.scores(clause, leaf, seg, boost) for clause in clauses], len(clauses), acc)

    @staticmethod
    def _merge(acc: dict[int, float], other: dict[int, float]) -> None:
        for d, s in other.items():
            acc[d] = acc.get(d, 0.0) + s


def best_per_thread(searcher, scorer: Scorer, segments, q: wq.Query, filters: Filters,
                    newest: bool, groups: list[tuple[str, ...]] | None = None) -> dict[int, tuple[float, int, float]]:
    """thread id → (sort key, global docnum, score) of its best visible matching post.

    By relevance, the best ``RERANK`` posts of each segment get the proximity bonus when the
    query has several words (``groups``), and a thread's score is its best post's plus
    ``THREAD_REST`` times the sum of its other matching posts' (a long text continued in
    replies keeps the evidence of all its parts); the hit stays the best post."""
    best: dict[int, tuple[float, int, float]] = {}
    rest: dict[int, float] = {}
    for leaf, offset in searcher.leaf_searchers():
        seg = segments(leaf.reader())
        allowed = filters.allowed(seg)
        if not allowed:
            continue
        scorer.allowed = allowed
        scores = scorer.scores(q, leaf, seg)
        threads, created = seg.threads, seg.created
        matched = scores.keys() & allowed
        if not newest and groups and len(groups) > 1 and matched:
            top = heapq.nlargest(RERANK, matched, key=scores.__getitem__)
            for d, extra in scorer.proximity(seg, groups, top).items():
                scores[d] += extra
        for d in matched:
            score = scores[d]
            key = created[d] if newest else score
            thread = threads[d]
            current = best.get(thread)
            # equal keys: by relevance the earlier document wins, by date the later one (the
            # index adds posts in the order they were written; timestamps have whole seconds)
            tie = current is not None and ((offset + d > current[1]) if newest else (offset + d < current[1]))
            if current is None or key > current[0] or (key == current[0] and tie):
                if current is not None and not newest:
                    rest[thread] = rest.get(thread, 0.0) + current[2]
                best[thread] = (key, offset + d, score)
            elif not newest:
                rest[thread] = rest.get(thread, 0.0) + score
    for thread, extra in rest.items():
        key, docnum, score = best[thread]
        best[thread] = (key + THREAD_REST * extra, docnum, score + THREAD_REST * extra)
    return best


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

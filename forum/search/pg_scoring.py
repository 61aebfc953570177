"""The PostgreSQL backend's two translations: a post into a ``tsvector``, and a query (as
``forum.search.query.build`` makes it) into a ``tsquery`` plus the same BM25F ranking as the
Whoosh backend (``forum.search.scoring``).

Documents: the German analysis of ``forum.search.analysis`` runs in Python; its terms go
into one ``tsvector`` (built from its text form, the ``simple`` way: no PostgreSQL
dictionary touches them) with their positions — body terms as they are with weight B,
title terms prefixed ``t:`` with weight A, author names prefixed ``a:`` with weight C. The
prefixes keep each field's positions apart, so a term's frequency per field is the length
of its position list, and phrases match within one field.

Queries: every term and phrase of the query tree becomes one alternative of the tsquery
that selects the candidates (GIN index; the permission scope and the filters are in the
same ``WHERE``). For each candidate PostgreSQL returns only the query's own terms with
their positions (``ts_filter(setweight(tsv, 'D', terms), '{d}')``), and ``Ranking`` scores
them exactly as ``forum.search.scoring.Scorer`` scores Whoosh's postings: same idf, K1,
B, boosts, quantised field lengths, coordination, phrases, proximity and the grouping by
thread.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import heapq
import re
from collections.abc import Callable
from math import log

from whoosh import query as wq
from whoosh.util.numeric import byte_to_length, length_to_byte

from forum.search import analysis
from forum.search.backend import PostDocument
from forum.search.scoring import DEFAULT_B, K1, RERANK, THREAD_REST, B, coordinate, passage_bonus

TITLE, BODY, AUTHOR = "title", "body", "author"
PREFIX = {TITLE: "t:", BODY: "", AUTHOR: "a:"}
WEIGHT = {TITLE: "A", BODY: "B", AUTHOR: "C"}
MAX_POSITION = 16383      # PostgreSQL's largest tsvector position
MAX_POSITIONS = 256       # positions PostgreSQL keeps per lexeme (and so the largest frequency)
MAX_LEXEME = 2000         # bytes; PostgreSQL refuses words of 2 KB


def lexeme(field: str, term: str) -> str:
    return PREFIX[field] + term


def field_of(lex: str) -> tuple[str, str]:
    for field in (TITLE, AUTHOR):
        if lex.startswith(PREFIX[field]):
            return field, lex[len(PREFIX[field]):]
    return BODY, lex


def quote(lex: str) -> str:
    """A lexeme as a tsvector/tsquery literal."""
    return "'" + lex.replace("\\", "\\\\").replace("'", "''") + "'"


# -- documents ------------------------------------------------------------------------------

@dataclasses.dataclass
class Analysed:
    tsv: str                          # text form of the tsvector
    terms: list[tuple[str, str]]      # (field, term), each once
    title_length: int
    body_length: int


def _german(text: str) -> tuple[dict[str, list[int]], int]:
    """term → positions (1-based, stop words not counted) and the token count, as Whoosh's
    ``analysis.german_analyzer`` indexes a field (both spellings of a word at one position)."""
    found: dict[str, list[int]] = collections.defaultdict(list)
    position = length = 0
    for word in analysis.words(text):
        forms = analysis.word_forms(word)
        if not forms:
            continue
        position += 1
        length += len(forms)
        for form in forms:
            found[form].append(min(position, MAX_POSITION))
    return found, length


def _names(text: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = collections.defaultdict(list)
    for position, word in enumerate(analysis.words(text), 1):
        found[analysis.fold(word)].append(min(position, MAX_POSITION))
    return found


def analyse(doc: PostDocument) -> Analysed:
    title, title_length = _german(doc.title)
    body, body_length = _german(doc.body)
    parts: list[str] = []
    terms: list[tuple[str, str]] = []
    for field, found in ((TITLE, title), (BODY, body), (AUTHOR, _names(doc.author))):
        weight = WEIGHT[field]
        for term, positions in found.items():
            lex = lexeme(field, term)
            if len(lex.encode()) > MAX_LEXEME:
                continue
            positions = list(dict.fromkeys(positions))[:MAX_POSITIONS]
            parts.append(quote(lex) + ":" + ",".join(f"{p}{weight}" for p in positions))
            terms.append((field, term))
    return Analysed(" ".join(parts), terms, title_length, body_length)


# -- queries --------------------------------------------------------------------------------

@dataclasses.dataclass
class Compiled:
    match: str                         # tsquery of the candidates ("" = nothing can match)
    excluded: str                      # tsquery of what ``-wort`` removes ("" = nothing)
    lexemes: list[str]                 # what each candidate's term positions are fetched for
    leaves: list[tuple[str, str]]      # (field, term) whose document frequency scoring needs


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _leaf_alternatives(q: wq.Query, out: list[str], lexemes: dict[str, None], leaves: dict) -> None:
    if isinstance(q, wq.Term):
        lex = lexeme(q.fieldname, _text(q.text))
        if len(lex.encode()) <= MAX_LEXEME:
            out.append(quote(lex))
            lexemes[lex] = None
            leaves[(q.fieldname, _text(q.text))] = None
    elif isinstance(q, wq.Phrase):
        words = [lexeme(q.fieldname, _text(w)) for w in q.words]
        if words and all(len(w.encode()) <= MAX_LEXEME for w in words):
            out.append("(" + " <-> ".join(quote(w) for w in words) + ")")
            lexemes.update(dict.fromkeys(words))
            leaves.update(dict.fromkeys((q.fieldname, _text(w)) for w in q.words))
    elif isinstance(q, wq.AndNot):
        _leaf_alternatives(q.a, out, lexemes, leaves)
    elif isinstance(q, wq.Or):
        for sub in q.subqueries:
            _leaf_alternatives(sub, out, lexemes, leaves)
    elif q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
        pass
    else:   # the query builder makes nothing else when given known/expand/contains
        raise TypeError(f"not supported by the PostgreSQL backend: {q!r}")


def compile_query(q: wq.Query) -> Compiled:
    lexemes: dict[str, None] = {}
    leaves: dict[tuple[str, str], None] = {}
    positive: list[str] = []
    _leaf_alternatives(q, positive, lexemes, leaves)
    excluded: list[str] = []
    if isinstance(q, wq.AndNot):
        _leaf_alternatives(q.b, excluded, {}, {})
    return Compiled(" | ".join(dict.fromkeys(positive)), " | ".join(dict.fromkeys(excluded)),
                    list(lexemes), list(leaves))


# -- candidates and their scores -------------------------------------------------------------

_HIT = re.compile(r"'((?:[^']|'')*)':([0-9,]+)")


@dataclasses.dataclass
class Stats:
    """What BM25 needs beyond the candidates: document count, summed field lengths and a
    document frequency per (field, term) — of the viewer's readable scope
    (``LexiconView.stats``), as ``forum.search.scoring.ScopeStats`` for Whoosh."""
    docs: int
    lengths: dict[str, int]
    df: Callable[[str, str], int]

    def average(self, field: str) -> float:
        return (self.lengths.get(field, 0) / self.docs if self.docs else 0.0) or 1.0


def _hits(found: str) -> list[tuple[str, str]]:
    """(lexeme, positions) of a tsvector's text form; our lexemes hold no spaces, quotes or
    backslashes, so splitting is enough (and twice as fast as the regular expression)."""
    if "''" in found or "\\" in found:
        return [(lex.replace("''", "'").replace("\\\\", "\\"), positions) for lex, positions in _HIT.findall(found)]
    return [(part[1:end], part[end + 2:]) for part in found.split() if (end := part.rfind("':")) > 0]


@functools.lru_cache(maxsize=4096)
def quantised(length: int) -> int:
    """A field length as Whoosh stores it (one byte, rounded up) and BM25 reads it."""
    return byte_to_length(length_to_byte(length))


class Candidates:
    """The rows one search statement returned, in post-id order (the order Whoosh numbers
    documents in, and so its tie-break): post id, thread id, creation time, field lengths and
    the query terms found (with positions)."""

    def __init__(self, rows):
        columns = list(zip(*rows, strict=True)) or [()] * 6
        self.post_ids, self.threads, self.created = list(columns[0]), list(columns[1]), list(columns[2])
        self.lengths = {TITLE: list(map(quantised, columns[3])), BODY: list(map(quantised, columns[4]))}
        self.postings: dict[str, list[tuple[int, str]]] = collections.defaultdict(list)
        postings = self.postings
        for index, found in enumerate(columns[5]):
            for lex, positions in _hits(found or ""):
                postings[lex].append((index, positions))

    def __len__(self) -> int:
        return len(self.post_ids)

    def positions(self, lex: str) -> dict[int, list[int]]:
        return {index: [int(p) for p in positions.split(",")] for index, positions in self.postings.get(lex, ())}


class Ranking:
    """``forum.search.scoring.Scorer`` over ``Candidates`` instead of Whoosh segments."""

    def __init__(self, candidates: Candidates, stats: Stats):
        self.c = candidates
        self.stats = stats
        self._idf: dict[tuple[str, str], float] = {}
        self._norms: dict[str, list[float]] = {}

    def idf(self, field: str, term: str) -> float:
        key = (field, term)
        found = self._idf.get(key)
        if found is None:
            df, count = self.stats.df(field, term), self.stats.docs
            found = self._idf[key] = log(1 + (count - df + 0.5) / (df + 0.5))
        return found

    def norms(self, field: str) -> list[float]:
        found = self._norms.get(field)
        if found is None:
            average = round(self.stats.average(field), 1) or 1.0
            b = B.get(field, DEFAULT_B)
            base, per_length = K1 * (1 - b), K1 * b / average
            found = self._norms[field] = [base + per_length * n for n in self.c.lengths[field]]
        return found

    def _term(self, field: str, term: str, boost: float, acc: dict[int, float]) -> None:
        postings = self.c.postings.get(lexeme(field, term))
        if not postings:
            return
        idf = self.idf(field, term)
        get = acc.get
        if field not in self.c.lengths:    # author: weight × idf × boost, no length
            for d, positions in postings:
                acc[d] = get(d, 0.0) + boost * idf * (positions.count(",") + 1)
            return
        top = idf * (K1 + 1) * boost
        norms = self.norms(field)
        for d, positions in postings:
            w = positions.count(",") + 1
            acc[d] = get(d, 0.0) + top * w / (w + norms[d])

    def scores(self, q: wq.Query, boost: float = 1.0, acc: dict[int, float] | None = None) -> dict[int, float]:
        acc = {} if acc is None else acc
        boost *= getattr(q, "boost", 1.0)
        if isinstance(q, wq.Term):
            self._term(q.fieldname, _text(q.text), boost, acc)
        elif isinstance(q, wq.AndNot):
            positive = self.scores(q.a, boost)
            for d in self.scores(q.b):
                positive.pop(d, None)
            for d, s in positive.items():
                acc[d] = acc.get(d, 0.0) + s
        elif isinstance(q, wq.Or) and q.scale:
            self._coordinated(q.subqueries, boost, acc)
        elif isinstance(q, wq.Or):
            for sub in q.subqueries:
                self.scores(sub, boost, acc)
        elif isinstance(q, wq.Phrase) and q.words:
            self._phrase(q, boost, acc)
        return acc

    def _phrase(self, q: wq.Phrase, boost: float, acc: dict[int, float]) -> None:
        field, words = q.fieldname, [_text(w) for w in q.words]
        positions = [self.c.positions(lexeme(field, word)) for word in words]
        if not all(positions):
            return
        candidates = set(positions[0]).intersection(*positions[1:])
        if not candidates:
            return
        norms = self.norms(field)
        top = sum(self.idf(field, word) for word in words) * (K1 + 1) * boost
        slop = max(1, q.slop)
        for d in candidates:
            following = [set(p[d]) for p in positions[1:]]
            count = 0
            for start in positions[0][d]:
                at = start
                for near in following:
                    at = next((at + step for step in range(1, slop + 1) if at + step in near), None)
                    if at is None:
                        break
                else:
                    count += 1
            if count:
                acc[d] = acc.get(d, 0.0) + top * count / (count + norms[d])

    def _coordinated(self, clauses, boost: float, acc: dict[int, float]) -> None:
        coordinate([self.scores(clause, boost) for clause in clauses], len(clauses), acc)

    def proximity(self, groups: list[tuple[str, ...]], docs: list[int]) -> dict[int, float]:
        """``Scorer.proximity``: the summed idf of the distinct query words found within
        ``WINDOW`` body positions of each other (the best passage), for ``docs``."""
        weights = [max((self.idf(BODY, t) for t in group if self.stats.df(BODY, t)), default=0.0) for group in groups]
        wanted = set(docs)
        hits: dict[int, list[tuple[int, int]]] = {d: [] for d in docs}
        for index, group in enumerate(groups):
            for term in group:
                for d, positions in self.c.postings.get(lexeme(BODY, term), ()):
                    if d in wanted:
                        hits[d].extend((int(p), index) for p in positions.split(","))
        return passage_bonus(hits, weights)

    def best_per_thread(self, q: wq.Query, newest: bool,
                        groups: list[tuple[str, ...]] | None = None) -> dict[int, tuple]:
        """thread id → (sort key, candidate index, score) of its best post, as
        ``forum.search.scoring.best_per_thread`` (proximity for the best ``RERANK`` posts,
        a thread's other matching posts add ``THREAD_REST`` of their scores)."""
        scores = self.scores(q)
        if not newest and groups and len(groups) > 1 and scores:
            top = heapq.nlargest(RERANK, scores, key=scores.__getitem__)
            for d, extra in self.proximity(groups, top).items():
                scores[d] += extra
        best: dict[int, tuple] = {}
        rest: dict[int, float] = {}
        threads, created = self.c.threads, self.c.created
        for d in sorted(scores):
            score = scores[d]
            key = created[d] if newest else score
            thread = threads[d]
            current = best.get(thread)
            tie = current is not None and (d > current[1] if newest else d < current[1])
            if current is None or key > current[0] or (key == current[0] and tie):
                if current is not None and not newest:
                    rest[thread] = rest.get(thread, 0.0) + current[2]
                best[thread] = (key, d, score)
            elif not newest:
                rest[thread] = rest.get(thread, 0.0) + score
        for thread, extra in rest.items():
            key, d, score = best[thread]
            best[thread] = (key + THREAD_REST * extra, d, score + THREAD_REST * extra)
        return best


def ranked(best: dict[int, tuple], count: int, newest: bool) -> list[tuple]:
    """The best ``count`` threads' entries, in result order (ties: by relevance the earlier
    post first, by date the later one)."""
    return heapq.nlargest(count, best.values(), key=lambda item: (item[0], item[1] if newest else -item[1]))

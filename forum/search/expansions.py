"""Which index terms a prefix (``wort*``, autocomplete) or a word inside compounds stands for,
chosen from the posts the viewer may read only (Issue 15, point 4).

An expansion is capped (``query.MAX_EXPANSION`` terms for a prefix, ``caches.MAX_CONTAINING``
for a compound part), the terms with the most readable posts first. Chosen by the whole
index's frequencies, another cluster's words pushed a readable word out of the list as soon
as more words matched than the cap: an outsider's results then told which words that cluster
uses. Here every step counts readable posts only:

- a prefix stands for the readable terms starting with it — the first ``EXPANSION_SCAN`` of
  them in alphabetical order (a bound on the work that only readable terms move: a term of
  another cluster is skipped, never counted) — and of those the ``MAX_EXPANSION`` with the
  most readable posts (ties: the later term, as before);
- a compound part stands for the ``MAX_CONTAINING`` readable compounds containing it with
  the most readable posts.

The readable count of a term is what ``scoring.ScopeStats`` scores with. It is counted lazily:
candidates in order of their whole-segment frequency, an upper bound of the readable count,
and counting stops once no further candidate can beat the chosen ones — so the whole index
decides only how much is counted, never what is chosen. A term in at most two posts of a
segment is read off its term entry (first and last post); a segment whose live posts the
viewer may all read answers with its own counts.
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator

from forum.search.caches import EXPANSION_SCAN, MAX_CONTAINING

Parts = list[tuple[object, object]]   # (SegmentData, Whoosh TermInfo) of the segments having a term


class _Segment:
    """One segment's answers for one permission scope."""

    def __init__(self, seg, scope):
        self.seg = seg
        self.scope = scope
        self.mask = seg.cached_mask(*scope)
        self.everything = bool(self.mask.all())   # no deletions, every post readable

    def readable(self, field: str, text, info) -> bool:
        df = info.doc_frequency()
        if not df:
            return False
        if self.everything:
            return True
        if df <= 2:
            return bool(self.mask[info.min_id()] or self.mask[info.max_id()])
        return self.seg.scope_has(self.scope, field, text)

    def count(self, field: str, text, info) -> int:
        df = info.doc_frequency()
        if self.everything or not df:
            return df
        if df <= 2:
            return int(self.mask[info.min_id()]) + (int(self.mask[info.max_id()]) if df == 2 else 0)
        return self.seg.scope_df(self.scope, field, text)


def best(field: str, candidates: Iterator[tuple[object, list]], limit: int) -> list:
    """The ``limit`` candidates with the most readable posts (ties: the later term), sorted;
    candidates without a readable post are never chosen. ``candidates`` yields (term, parts)
    with parts as (``_Segment``, term info)."""
    bounded = sorted(((sum(info.doc_frequency() for _seg, info in parts), text, parts)
                      for text, parts in candidates), key=lambda item: (item[0], item[1]), reverse=True)
    chosen: list[tuple[int, object]] = []
    for bound, text, parts in bounded:
        if len(chosen) >= limit and (bound, text) < chosen[0]:
            break   # sorted by bound: no later candidate can enter either
        count = sum(seg.count(field, text, info) for seg, info in parts)
        if not count:
            continue
        if len(chosen) < limit:
            heapq.heappush(chosen, (count, text))
        elif (count, text) > chosen[0]:
            heapq.heapreplace(chosen, (count, text))
    return sorted(text for _count, text in chosen)


def _terms(index: int, seg, field: str, prefix: str) -> Iterator[tuple[bytes, int, object]]:
    for text, info in seg.reader.iter_prefix(field, prefix):
        yield text, index, info


def prefix_terms(segs: list, scope, field: str, prefix: str, limit: int) -> list[bytes]:
    """The terms of ``field`` that ``prefix`` stands for in the readable posts of ``scope``
    (``segs``: every segment's ``scoring.SegmentData``)."""
    views = [_Segment(seg, scope) for seg in segs]
    merged = heapq.merge(*(_terms(i, seg, field, prefix) for i, seg in enumerate(segs)))
    readable: list[tuple[bytes, list]] = []
    for text, group in itertools.groupby(merged, key=lambda entry: entry[0]):
        parts = [(views[i], info) for _text, i, info in group]
        if any(seg.readable(field, text, info) for seg, info in parts):
            readable.append((text, parts))
            if len(readable) >= EXPANSION_SCAN:
                break
    return best(field, iter(readable), limit)


def containing_terms(segs: list, scope, field: str, part: str) -> list[str]:
    """The compounds of ``field`` containing ``part`` that stand for it in the readable posts
    of ``scope`` (candidates: each segment's substring scan, ``SegmentData.containing``)."""
    by_term: dict[str, list] = {}
    for seg in segs:
        view = None
        for text in seg.containing(field, part):
            info = seg.reader.term_info(field, text)
            view = view or _Segment(seg, scope)
            by_term.setdefault(text, []).append((view, info))
    return best(field, iter(by_term.items()), MAX_CONTAINING)


"""Per-index-generation caches of the Whoosh read path: whether a stem is a word of the
index, which terms a prefix stands for and which compounds contain a word (both capped,
most frequent first), and which words lie within a few edits of a typo. A new generation
(after any write) starts with empty caches.

``expand`` and ``contains`` here rank by the whole index; searches and completions use
``scoring.ScopeStats.expand``/``contains`` instead, chosen by the viewer's readable posts
(``forum.search.expansions``, Issue 15, point 4).
"""
from __future__ import annotations

import heapq

EXPANSION_SCAN = 3000     # lexicon entries a prefix expansion looks at
CACHE_LIMIT = 5000        # entries per cache and generation
MAX_CONTAINING = 12       # compounds one word stands for

class Generation:
    """Answers that only change when the index does: is a stem a word of the index, which
    terms a prefix stands for, which words lie within a few edits of a typo."""

    def __init__(self, key: int, searcher, max_expansion: int, segments):
        self.key = key
        self.searcher = searcher
        self.reader = searcher.reader()
        self.max_expansion = max_expansion
        self._segments = segments
        self._known: dict[str, bool] = {}
        self._expand: dict[tuple[str, str], list[bytes]] = {}
        self._contains: dict[tuple[str, str], list[str]] = {}
        self._near: dict[tuple[str, int], list[str]] = {}
        self._frequency: dict[tuple[str, object], int] = {}
        self.scoped: dict[tuple, int] = {}   # (scope, field, text) → readable posts (scoring.ScopeStats)

    @staticmethod
    def _remember(cache: dict, key, value):
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[key] = value
        return value

    def doc_frequency(self, field: str, text) -> int:
        """Posts having ``text`` in ``field`` (a look-up in every segment's term table, 5–10 µs
        each; a long question asks for a hundred terms)."""
        key = (field, text)
        found = self._frequency.get(key)
        if found is None:
            found = self._remember(self._frequency, key, self.reader.doc_frequency(field, text))
        return found

    def known(self, stem: str) -> bool:
        found = self._known.get(stem)
        if found is None:
            found = self._remember(self._known, stem, self.doc_frequency("body", stem) > 0
                                   or self.doc_frequency("title", stem) > 0)
        return found

    def expand(self, field: str, prefix: str) -> list[bytes]:
        """The most frequent index terms of ``field`` starting with ``prefix`` (capped)."""
        key = (field, prefix)
        found = self._expand.get(key)
        if found is None:
            candidates = []
            for count, (text, info) in enumerate(self.reader.iter_prefix(field, prefix)):
                if count >= EXPANSION_SCAN:
                    break
                candidates.append((info.doc_frequency(), text))
            best = heapq.nlargest(self.max_expansion, candidates)
            found = self._remember(self._expand, key, sorted(text for _df, text in best))
        return found

    def contains(self, field: str, part: str) -> list[str]:
        """The most frequent compounds of ``field`` that contain ``part`` (capped): the
        sub-word match ("Pumpe", "Förderung" → "Wärmepumpenförderung") without an index of
        sub-words, from a substring scan of each segment's lexicon (cached per segment)."""
        key = (field, part)
        found = self._contains.get(key)
        if found is None:
            terms: set[str] = set()
            for leaf, _offset in self.searcher.leaf_searchers():
                terms.update(self._segments(leaf.reader()).containing(field, part))
            ranked = heapq.nlargest(MAX_CONTAINING, ((self.doc_frequency(field, t), t) for t in terms))
            found = self._remember(self._contains, key, sorted(t for _df, t in ranked))
        return found

    def near(self, stem: str, maxdist: int) -> list[str]:
        """Words of the title and body fields within ``maxdist`` edits of ``stem`` (same
        first letter); the caller restricts what they match to visible posts."""
        key = (stem, maxdist)
        found = self._near.get(key)
        if found is None:
            words: set[str] = set()
            for field in ("title", "body"):
                words.update(self.reader.terms_within(field, stem, maxdist, prefix=1))
            words.discard(stem)
            found = self._remember(self._near, key, sorted(words))
        return found

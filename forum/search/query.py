"""What people type → a Whoosh query.

Syntax: words (any of them may match; documents matching more of them rank higher),
``"quoted phrases"``, ``-wort`` / ``-"eine Phrase"`` to exclude, ``wort*`` for prefixes.
Each word also matches its synonyms (``synonyms.txt``) and, at a low weight, compounds
that contain it (the sub-word field). A typed compound the index does not have also matches
other compounds ending in its longest known tail (Berufszulassung → Berufungszulassung).

Prefix-like matches (``wort*``, compound parts) are not Whoosh ``Prefix`` queries (those read
every posting of every expanded term and score them all alike). Instead ``Expand`` callables
(the backend's, cached) turn a prefix (``expand``) or a word inside compounds (``contains``)
into at most ``MAX_EXPANSION`` ordinary scored terms, those in most posts first — posts the
viewer may read, on the read path (``forum.search.expansions``, Issue 15, point 4).
"""
from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from pathlib import Path

from whoosh import query as wq

from forum.search import analysis

TITLE_BOOST = 1.0
AUTHOR_BOOST = 0.6
SYNONYM_BOOST = 0.7
SURE_PART = 6            # a part this long counts even when the rest of the word is unknown
SPLIT_BOOST = 0.5        # the parts of a compound the user typed (Photovoltaikanlage → Photovoltaik, Anlage)
COORDINATION = 0.9
TAIL_BOOST = 0.5         # compounds with the tail of a typed compound the index lacks (Berufszulassung)
PART_BOOST = 0.1         # a compound that contains the word, or a word that starts with it
PREFIX_BOOST = 0.8       # wort*
MAX_EXPANSION = 24       # terms one prefix may stand for
SYNONYMS_FILE = Path(__file__).with_name("synonyms.txt")

Expand = Callable[[str, str], list[str]]   # (field, prefix) → index terms with that prefix

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclasses.dataclass
class ParsedQuery:
    words: list[str] = dataclasses.field(default_factory=list)       # plain words as typed
    prefixes: list[str] = dataclasses.field(default_factory=list)    # wort*
    phrases: list[list[str]] = dataclasses.field(default_factory=list)
    excluded: list[list[str]] = dataclasses.field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.words or self.prefixes or self.phrases)


@dataclasses.dataclass
class Marks:
    """What a snippet highlights: stems, stem prefixes (wort*) and compound parts."""
    stems: set[str] = dataclasses.field(default_factory=set)
    prefixes: set[str] = dataclasses.field(default_factory=set)
    parts: set[str] = dataclasses.field(default_factory=set)
    groups: list[tuple[str, ...]] = dataclasses.field(default_factory=list)   # each typed word's body terms (proximity)


def parse(text: str) -> ParsedQuery:
    parsed = ParsedQuery()
    for match in _TOKEN.finditer(text or ""):
        negate, phrase, raw = match.groups()
        if raw is None:
            found = analysis.words(phrase)
            if found:
                (parsed.excluded if negate else parsed.phrases).append(found)
            continue
        negated = raw.startswith("-") and len(raw) > 1
        found = analysis.words(raw[1:] if negated else raw)
        if not found:
            continue
        if negated:
            parsed.excluded.append(found)
        elif raw.endswith("*"):
            parsed.words.extend(found[:-1])
            parsed.prefixes.append(found[-1])
        else:
            parsed.words.extend(found)
    return parsed


# -- synonyms -----------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def synonym_table(path: str = str(SYNONYMS_FILE)) -> dict[str, tuple[tuple[tuple[str, ...], ...], ...]]:
    """stem of a one-word entry → the other entries of its groups, each as word forms."""
    table: dict[str, list[tuple[tuple[str, ...], ...]]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        entries = []
        for entry in line.split(","):
            forms = tuple(f for f in (analysis.word_forms(w) for w in analysis.words(entry)) if f)
            if forms and forms not in entries:
                entries.append(forms)
        for entry in entries:
            if len(entry) == 1:
                others = [other for other in entries if other != entry]
                table.setdefault(entry[0][0], []).extend(others)
    return {key: tuple(dict.fromkeys(value)) for key, value in table.items()}


def synonyms_of(forms: tuple[str, ...]) -> tuple[tuple[tuple[str, ...], ...], ...]:
    return synonym_table().get(forms[0], ())


# -- building blocks ----------------------------------------------------------------------

def _alternatives(field: str, forms: tuple[str, ...], boost: float) -> wq.Query:
    terms = [wq.Term(field, form, boost=boost) for form in forms]
    return terms[0] if len(terms) == 1 else wq.DefaultOr(terms)


def word_query(forms: tuple[str, ...], boost: float = 1.0) -> wq.Query:
    """One word in the title (weighted higher) or the body; BM25F sums both."""
    return wq.DefaultOr([_alternatives("title", forms, TITLE_BOOST * boost), _alternatives("body", forms, boost)])


def phrase_query(sequence: list[tuple[str, ...]], boost: float = 1.0) -> wq.Query:
    if len(sequence) == 1:
        return word_query(sequence[0], boost)
    variants = list(dict.fromkeys((tuple(f[0] for f in sequence), tuple(f[-1] for f in sequence))))
    phrases = [wq.Phrase(field, list(words), boost=boost * (TITLE_BOOST if field == "title" else 1.0))
               for words in variants for field in ("title", "body")]
    return wq.DefaultOr(phrases)


def _sequence(found: list[str]) -> list[tuple[str, ...]]:
    return [f for f in (analysis.word_forms(w) for w in found) if f]


def compound_parts(word: str, known: Callable[[str], bool]) -> list[str]:
    """Stems of the parts of a typed compound: for every cut, head and tail when both are
    words of the index (``known``), or a long known one alone."""
    parts: list[str] = []
    for heads, tail in analysis.splits(word):
        tail_stem = analysis.stem(tail)
        tail_known = known(tail_stem)
        head_stems = [h for h in dict.fromkeys(analysis.stem(head) for head in heads) if known(h)]
        if head_stems and tail_known:
            parts.extend((head_stems[0], tail_stem))
        elif head_stems and len(head_stems[0]) >= SURE_PART:
            parts.append(head_stems[0])
        elif tail_known and len(tail_stem) >= SURE_PART:
            parts.append(tail_stem)
    return list(dict.fromkeys(p for p in parts if len(p) >= 3))


def compound_tail(word: str, known: Callable[[str], bool]) -> str:
    """The longest known word (stem) a typed compound ends with, at least ``SURE_PART`` long
    and shorter than the word ("" when there is none): the compound's head noun, which other
    compounds of the same meaning share (Einkommenssteuerbescheid, Einkommensteuerbescheid)."""
    for _heads, tail in analysis.splits(word):
        tail_stem = analysis.stem(tail)
        if len(tail_stem) >= SURE_PART and known(tail_stem):
            return tail_stem
    return ""


def expansion(field: str, prefix: str, boost: float, expand: Expand | None) -> wq.Query | None:
    """The terms ``prefix`` stands for as scored terms (``None`` when there are none)."""
    if expand is None:
        return wq.Prefix(field, prefix, boost=boost)
    terms = expand(field, prefix)
    if not terms:
        return None
    return _alternatives(field, tuple(terms), boost)


def word_clause(word: str, marks: Marks, known: Callable[[str], bool] | None = None,
                expand: Expand | None = None, contains: Expand | None = None) -> wq.Query | None:
    forms = analysis.word_forms(word)
    if not forms:
        return None
    marks.stems.update(forms)
    group = list(forms)
    alternatives = [word_query(forms)]
    for entry in synonyms_of(forms):
        alternatives.append(phrase_query(list(entry), SYNONYM_BOOST))
        for entry_forms in entry:
            marks.stems.update(entry_forms)
    if known is not None:
        for part in compound_parts(word, known):
            if part not in forms:
                alternatives.append(word_query((part,), SPLIT_BOOST))
                marks.stems.add(part)
                group.append(part)
        # a compound the index does not have: other compounds with its tail stand in for it
        tail = "" if any(known(form) for form in forms) else compound_tail(word, known)
        if tail and contains is not None:
            for field in ("body", "title"):
                terms = [t for t in contains(field, tail) if t not in forms]
                if terms:
                    alternatives.append(_alternatives(field, tuple(terms), TAIL_BOOST))
            marks.parts.add(tail)
    if tuple(group) not in marks.groups:
        marks.groups.append(tuple(group))
    part = analysis.part_key(word)
    if part:
        # at a low weight, below a real word match: compounds that contain the word
        for field in ("body", "title"):
            if contains is not None:
                terms = contains(field, part)
                clause = _alternatives(field, tuple(terms), PART_BOOST) if terms else None
            else:
                clause = wq.Wildcard(field, f"*{part}*", boost=PART_BOOST)
            if clause is not None:
                alternatives.append(clause)
        marks.parts.add(part)
    alternatives.append(wq.Term("author", analysis.fold(word), boost=AUTHOR_BOOST))
    # Or, not DisjunctionMax: Whoosh 2.7.4's DisjunctionMaxMatcher scores with the wrong sub-matcher.
    return wq.DefaultOr(alternatives)


def prefix_clause(word: str, marks: Marks, expand: Expand | None = None) -> wq.Query | None:
    folded = analysis.fold(word)
    keys = {analysis.stem(folded), analysis.stem(analysis.fold_digraphs(folded))}
    keys = {key for key in keys if len(key) >= 2}
    if not keys:
        return None
    marks.prefixes.update(keys)
    clauses = [expansion(field, key, PREFIX_BOOST * (TITLE_BOOST if field == "title" else 1.0), expand)
               for key in sorted(keys) for field in ("title", "body")]
    clauses = [c for c in clauses if c is not None]
    return wq.DefaultOr(clauses) if clauses else wq.NullQuery


def fuzzy_clause(stem: str, maxdist: int, near: list[str] | None = None) -> wq.Query | None:
    """Words within ``maxdist`` edits of ``stem``: the given ``near`` words as plain terms
    (``None`` when there are none), or Whoosh's fuzzy query without them."""
    if near is not None:
        if not near:
            return None
        return wq.DefaultOr([_alternatives(field, tuple(near), TITLE_BOOST if field == "title" else 1.0)
                      for field in ("title", "body")])
    return wq.DefaultOr([wq.FuzzyTerm(field, stem, maxdist=maxdist, prefixlength=1,
                               boost=TITLE_BOOST if field == "title" else 1.0)
                  for field in ("title", "body")])


def build(parsed: ParsedQuery, marks: Marks, extra: list[wq.Query] | None = None,
          known: Callable[[str], bool] | None = None, expand: Expand | None = None,
          contains: Expand | None = None) -> wq.Query | None:
    """The whole query; ``None`` when nothing searchable is left (only stop words).
    ``known`` tells whether a stem is in the index (for splitting typed compounds),
    ``expand`` what a prefix stands for, ``contains`` which compounds contain a word."""
    clauses = [c for c in (word_clause(w, marks, known, expand, contains) for w in parsed.words) if c is not None]
    clauses += [c for c in (prefix_clause(w, marks, expand) for w in parsed.prefixes) if c is not None]
    for found in parsed.phrases:
        sequence = _sequence(found)
        if sequence:
            clauses.append(phrase_query(sequence, 1.5))
            for forms in sequence:
                marks.stems.update(forms)
    clauses += extra or []
    if not clauses:
        return None
    positive = clauses[0] if len(clauses) == 1 else wq.DefaultOr(clauses, scale=COORDINATION)
    excluded = [phrase_query(seq) for seq in (_sequence(found) for found in parsed.excluded) if seq]
    if excluded:
        return wq.AndNot(positive, wq.DefaultOr(excluded))
    return positive

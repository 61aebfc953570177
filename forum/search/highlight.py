"""Snippets: the passage of a post with the most matches, matches in ``<mark>``, HTML-escaped."""
from __future__ import annotations

import bisect
import re

from markupsafe import Markup, escape

from forum.search import analysis
from forum.search.query import Marks

WINDOW = 28          # words in a snippet
LEAD = 4             # words shown before the first match
PLAIN_LENGTH = 220   # characters of the opening when nothing matches


def _matches(word: str, marks: Marks) -> bool:
    forms = analysis.word_forms(word)
    if not forms:
        return False
    if marks.stems.intersection(forms):
        return True
    if any(form.startswith(prefix) for prefix in marks.prefixes for form in forms):
        return True
    if marks.parts and len(word) >= analysis.MIN_COMPOUND:
        folded = analysis.fold_digraphs(analysis.fold(word))
        return any(part in folded for part in marks.parts)
    return False


def snippet(text: str, marks: Marks) -> Markup:
    spans = [(m.start(), m.end(), _matches(m.group(0), marks)) for m in analysis.WORD.finditer(text)]
    hits = [i for i, span in enumerate(spans) if span[2]]
    if not hits:
        return _opening(text)
    best, best_count = hits[0], 0
    for index, i in enumerate(hits):
        count = bisect.bisect_left(hits, i + WINDOW) - index
        if count > best_count:
            best, best_count = i, count
    first = max(0, best - LEAD)
    last = min(len(spans), first + WINDOW) - 1
    start, end = spans[first][0], spans[last][1]
    parts: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for s, e, marked in spans[first:last + 1]:
        if marked:
            parts.append(str(escape(text[cursor:s])))
            parts.append(f"<mark>{escape(text[s:e])}</mark>")
            cursor = e
    parts.append(str(escape(text[cursor:end])))
    if end < len(text.rstrip()):
        parts.append("…")
    return Markup("".join(parts))


def _opening(text: str) -> Markup:
    if len(text) <= PLAIN_LENGTH:
        return Markup(escape(text))
    cut = text.rfind(" ", 0, PLAIN_LENGTH)
    return Markup(escape(text[: cut if cut > 0 else PLAIN_LENGTH]) + "…")


_TAGS = re.compile(r"<[^<>]+>")  # "[^>]" scanned to the end from every "<" of a run (quadratic)


def strip_marks(html: str) -> str:
    """The snippet's text without markup (tests and plain-text mails)."""
    return _TAGS.sub("", html)

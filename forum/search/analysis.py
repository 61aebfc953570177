"""German text analysis shared by indexing, querying and snippets.

Rules, each applied the same way to documents and to queries:

* lower case, umlauts and ß folded (Wärmepumpe, warmepumpe → ``warmepump``; Straße → strasse);
* the way phones type umlauts (ae, oe, ue) is folded too, into a second variant at the same
  position, so "waermepumpe" finds "Wärmepumpe" while "neue"/"Steuer" keep their normal stems;
* Snowball German stemming (Betrieb, Betriebe, Betriebs → ``betrieb``), plus the plural -s
  of words ending in a vowel (Azubis → azubi);
* German stop words are dropped, with positions renumbered so phrases still line up (each
  two neighbouring stems also form one ``pairs`` term: a phrase is a look-up, not a comparison
  of positions);
* compounds: "Pumpe" or "Förderung" find "Wärmepumpenförderung" because the query also
  asks, at a low weight, for the index words that contain the word's stem (a substring scan
  of the lexicon, ``forum.search.caches``); ``word_parts`` lists the sub-words that way
  reachable, and the snippet marks them.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator

from whoosh.analysis import Filter, RegexTokenizer
from whoosh.lang import stopwords_for_language
from whoosh.lang.snowball.german import GermanStemmer

WORD = re.compile(r"\w+")
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss", "ẞ": "ss"})
# ae/oe/ue written for ä/ö/ü; not the "ue" of eu/au diphthongs (neue, Steuer, Bauer) or "que".
_DIGRAPH = re.compile(r"ae|oe|(?<![aeq])ue")
_PLURAL_S = re.compile(r"(?<=[aio])s$")
MIN_PART = 4          # shortest compound part the sub-word field can find
MIN_COMPOUND = 8      # shorter words are not split
PART_START = 3        # a part starts at least this far into the word

_stemmer = GermanStemmer()


def fold(word: str) -> str:
    """Lower case without umlauts, ß or other accents."""
    word = word.lower().translate(_FOLD)
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold_digraphs(folded: str) -> str:
    """The phone spelling's fold: waermepumpe → warmepumpe."""
    return _DIGRAPH.sub(lambda m: m.group(0)[0], folded)


def _unfold_digraphs(word: str) -> str:
    return _DIGRAPH.sub(lambda m: {"ae": "ä", "oe": "ö", "ue": "ü"}[m.group(0)], word)


# Question words and auxiliaries of natural questions ("Wann wurde … entschieden?"): they
# match nearly every text and would only dilute the bonus for matching more of the words.
QUESTION_WORDS = {"wann", "wer", "wem", "wen", "wessen", "wo", "woher", "wohin", "warum", "wieso", "weshalb",
                  "wodurch", "womit", "wofür", "wovon", "worauf", "woraus", "worin", "worum", "wogegen",
                  "wonach", "wozu", "woran", "worüber", "wobei", "weswegen", "inwiefern", "inwieweit",
                  "wieviel", "wieweit",
                  "worden", "geworden", "welch"}


def _stopwords() -> frozenset[str]:
    base = set(stopwords_for_language("de")) | {"dass", "ueber", "fuer", "wurde", "wurden", "gibt", "bzw", "z", "b"}
    base |= QUESTION_WORDS
    return frozenset(base | {fold(w) for w in base})


STOPWORDS = _stopwords()


def is_stopword(lower: str) -> bool:
    return lower in STOPWORDS or _unfold_digraphs(lower) in STOPWORDS


def stem(folded: str) -> str:
    if folded.isdigit():
        return folded
    stemmed = _stemmer.stem(folded)
    if len(stemmed) >= 5:
        stemmed = _PLURAL_S.sub("", stemmed)
    return stemmed


@functools.lru_cache(maxsize=200_000)
def word_forms(word: str) -> tuple[str, ...]:
    """The index terms of one word: () for a stop word, else the stem and, for the phone
    spelling, a second stem."""
    lower = word.lower()
    if len(lower) < 2 and not lower.isdigit() or is_stopword(lower):
        return ()
    folded = fold(lower)
    primary = stem(folded)
    digraph = fold_digraphs(folded)
    if digraph == folded:
        return (primary,)
    secondary = stem(digraph)
    return (primary,) if secondary == primary else (primary, secondary)


@functools.lru_cache(maxsize=100_000)
def part_key(word: str) -> str:
    """What a query word looks for in the sub-word field ("" when too short)."""
    lower = word.lower()
    if is_stopword(lower):
        return ""
    key = stem(fold_digraphs(fold(lower)))
    return key if len(key) >= MIN_PART and not key.isdigit() else ""


@functools.lru_cache(maxsize=100_000)
def word_parts(word: str) -> tuple[str, ...]:
    """The sub-word terms of a long word: every suffix that starts at least ``PART_START``
    letters in and is at least ``MIN_PART`` long. (A compound's head is found by a prefix
    query on the stemmed word itself.)"""
    lower = word.lower()
    if len(lower) < MIN_COMPOUND or is_stopword(lower):
        return ()
    folded = fold_digraphs(fold(lower))
    if folded.isdigit():
        return ()
    return tuple(folded[i:] for i in range(PART_START, len(folded) - MIN_PART + 1))


_LINKS = ("es", "en", "s", "n", "e")   # Fugenelemente at the end of a compound's head


def splits(word: str) -> list[tuple[tuple[str, ...], str]]:
    """Ways to cut a long query word in two: (heads with and without a linking element,
    tail), all folded. The caller keeps the cuts whose parts are known words."""
    folded = fold_digraphs(fold(word))
    if len(folded) < 2 * MIN_PART or not folded.isalpha():
        return []
    cuts = []
    for i in range(MIN_PART, len(folded) - MIN_PART + 1):
        head, tail = folded[:i], folded[i:]
        heads = (head,) + tuple(head[:-len(link)] for link in _LINKS
                                if head.endswith(link) and len(head) - len(link) >= MIN_PART)
        cuts.append((heads, tail))
    return cuts


def words(text: str) -> list[str]:
    return WORD.findall(text)


PAIR = "+"   # joins the stems of two neighbouring words into one index term (phrases)


def indexed_words(text: str) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(position, index terms) of each word of ``text`` that the index keeps, with positions
    counted as the index counts them (stop words left out, as ``GermanFilter`` does)."""
    position = 0
    for word in WORD.findall(text):
        forms = word_forms(word)
        if forms:
            yield position, forms
            position += 1


def pairs(text: str) -> list[str]:
    """The neighbour terms of a text: for each two consecutive words (stop words left out, as
    in the positions), their stems joined by ``PAIR``, each spelling variant with each other.
    A phrase is then a look-up of its pairs instead of a comparison of positions."""
    found: list[str] = []
    previous: tuple[str, ...] = ()
    for _position, forms in indexed_words(text):
        found.extend(f"{a}{PAIR}{b}" for a in previous for b in forms)
        previous = forms
    return found


def positions(text: str, wanted: dict[str, list[int]]) -> list[tuple[int, int]]:
    """(position, value) for each word of ``text`` whose index term is a key of ``wanted``,
    once per value."""
    return [(position, value) for position, forms in indexed_words(text)
            for form in forms for value in wanted.get(form, ())]


class GermanFilter(Filter):
    """Stop words out, then each word's forms (see ``word_forms``) at one position."""

    def __eq__(self, other):
        return other is not None and self.__class__ is other.__class__

    def __call__(self, tokens):
        position = 0
        for token in tokens:
            forms = word_forms(token.text)
            if not forms:
                continue
            if token.positions:
                token.pos = position
            position += 1
            for form in forms:
                token.text = form
                yield token


class FoldFilter(Filter):
    """Lower case and folded, nothing more (names)."""

    def __eq__(self, other):
        return other is not None and self.__class__ is other.__class__

    def __call__(self, tokens):
        for token in tokens:
            token.text = fold(token.text)
            yield token


def german_analyzer():
    return RegexTokenizer(WORD) | GermanFilter()


def name_analyzer():
    return RegexTokenizer(WORD) | FoldFilter()

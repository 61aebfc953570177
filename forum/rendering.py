"""Markdown → sanitised HTML: the one path user text takes to a page.

Rendered once on save; templates print the stored HTML with ``|safe`` at that one field.
"""
from __future__ import annotations

import functools
import html
import re
import threading
from functools import partial

import bleach
import markdown
from bleach import html5lib_shim
from bleach.linkifier import URL_RE, LinkifyFilter
from markdown import inlinepatterns

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody",
    "td", "th", "thead", "tr", "ul",
})
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title", "rel"],
    "abbr": ["title"],
    "th": ["align"],
    "td": ["align"],
    "ol": ["start"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener ugc"
EXTENSIONS = ["fenced_code", "tables", "sane_lists", "nl2br"]

# Cost bounds (Issue 15, point 1): python-markdown scans forward from every "[" and "(" of a
# link, and nests a block per quote or list marker, so crafted input cost seconds to minutes.
# Links nest at most MAX_LINK_NESTING brackets or parentheses deep, a line opens at most
# MAX_BLOCK_NESTING quotes and lists; beyond that the characters are plain text.
MAX_LINK_NESTING = 8
MAX_BLOCK_NESTING = 16
MAX_TITLE_OVERHANG = 120  # how far a link's title in quotes may reach past its parentheses
MAX_CODE_SPAN = 1000  # characters between the backticks of an inline code span

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# "[^<>]", not "[^>]": on a run of "<" the latter scans to the end from each one (quadratic); the
# HTML here comes from the cleaner, which escapes every "<" that does not open a tag.
_TAG = re.compile(r"<[^<>]+>")


# Bleach's URL pattern begins with "\(*\b": from each "(" of a run it takes the rest of the run and
# backs off one at a time, quadratic on "(((…" (50,000 took minutes). A URL's opening parentheses
# start where the run starts and are taken at once; the matches are the same.
_URL_RE = re.compile(URL_RE.pattern.replace(r"\(*", r"(?<!\()\(*+", 1), URL_RE.flags)


def _set_rel(attrs: dict, new: bool = False) -> dict:
    """Every link to elsewhere gets rel=nofollow noopener ugc."""
    href_key = (None, "href")
    href = attrs.get(href_key, "")
    if not href or href.startswith("#"):
        return attrs
    attrs[(None, "rel")] = LINK_REL
    return attrs


class _TreeWalker(html5lib_shim.getTreeWalker("etree")):
    """html5lib's walker finds an element's place among its siblings by counting all of them,
    each time it climbs back to the parent: quadratic in a table of 10,000 rows (seconds). Here
    each parent's children are numbered once."""

    def __init__(self, tree):
        super().__init__(tree)
        self._positions: dict[int, dict[int, int]] = {}

    def getParentNode(self, node):  # noqa: N802 (html5lib's name)
        if isinstance(node, tuple) and node[3] != "text" and len(node[2]) > 1:
            parents = node[2]
            parent = parents.pop()
            siblings = parents[-1]
            positions = self._positions.get(id(siblings))
            if positions is None:
                positions = self._positions[id(siblings)] = {id(child): i for i, child in enumerate(siblings)}
            return parent, positions[id(parent)], parents, None
        return super().getParentNode(node)


def _cleaner() -> bleach.Cleaner:
    """Cleaning and linkifying in one pass (a separate Linker re-escapes text inside <code>)."""
    cleaner = bleach.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[partial(LinkifyFilter, callbacks=[_set_rel], skip_tags={"pre", "code"}, parse_email=False,
                         url_re=_URL_RE)],
    )
    cleaner.walker = _TreeWalker
    return cleaner


def has_control_characters(text: str) -> bool:
    """Control and bidi-override characters other than tab and newlines."""
    return bool(_CONTROL.search(text))


def normalise(text: str) -> str:
    """Line endings to \\n, surrounding whitespace removed."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def render(source: str) -> str:
    """Markdown to HTML that is safe to print as is."""
    # Building a converter and cleaner costs as much as using them, and neither is
    # thread-safe: one of each per thread, the converter reset per call.
    if not hasattr(_per_thread, "markdown"):
        _per_thread.markdown, _per_thread.cleaner = _markdown(), _cleaner()
    md = _per_thread.markdown
    md.reset()
    return _per_thread.cleaner.clean(md.convert(_bound_block_nesting(source)))


_per_thread = threading.local()


def _markdown() -> markdown.Markdown:
    """A converter that treats raw HTML as text and images as plain links (no tracking
    pixels from other hosts); bleach still cleans whatever comes out."""
    md = markdown.Markdown(extensions=EXTENSIONS, output_format="html")
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    md.inlinePatterns.deregister("image_link")
    md.inlinePatterns.deregister("image_reference")
    # The same processors under the same names and priorities, with bounded scans.
    md.inlinePatterns.register(_Backtick(inlinepatterns.BACKTICK_RE), "backtick", 190)
    md.inlinePatterns.register(_Reference(inlinepatterns.REFERENCE_RE, md), "reference", 170)
    md.inlinePatterns.register(_Link(inlinepatterns.LINK_RE, md), "link", 160)
    md.inlinePatterns.register(_ShortReference(inlinepatterns.REFERENCE_RE, md), "short_reference", 130)
    md.inlinePatterns.register(_ShortImageReference(inlinepatterns.IMAGE_REFERENCE_RE, md), "short_image_ref", 125)
    return md


# -- bounded cost -------------------------------------------------------------------------------

_MARKER = r"(?:>|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t]))"
_DEEP_LINE = re.compile(
    rf"^((?:[ \t]*{_MARKER}){{{MAX_BLOCK_NESTING}}}[ \t]*)(?:(\d{{1,9}})(?=[.)][ \t])|(?=>|[-+*][ \t]))", re.M)


def _bound_block_nesting(source: str) -> str:
    """A line's quote and list markers beyond MAX_BLOCK_NESTING are escaped ("\\>", "\\-", "1\\."),
    so they read as text."""
    return _DEEP_LINE.sub(lambda m: m.group(1) + (m.group(2) or "") + "\\", source)


def _balanced(opening: str, closing: str) -> re.Pattern:
    """Text up to and including the bracket that closes one just opened, with at most
    MAX_LINK_NESTING brackets nested inside. Possessive, so the pattern never backs up: a match
    or a failure reads each character once, and a character is read only for the brackets
    around it (at most MAX_LINK_NESTING + 1 of them): asking for every bracket of a text costs a
    few readings of it, where python-markdown read to the end of the paragraph from each one."""
    o, c = re.escape(opening), re.escape(closing)
    other = f"[^{o}{c}]*+"
    pattern = other
    for _ in range(MAX_LINK_NESTING):
        pattern = f"{other}(?:{o}{pattern}{c}{other})*+"
    return re.compile(pattern + c)


_LINK_TEXT = _balanced("[", "]")
_LINK_TARGET = _balanced("(", ")")
_TITLE_END = re.compile(r"[\"'][ ]*\)")


class _BoundedText:
    """The text of a link in brackets, looked for no further than MAX_LINK_NESTING brackets deep
    (python-markdown scans to the end of the paragraph from every "[" that does not close)."""

    def getText(self, data: str, index: int) -> tuple[str, int, bool]:  # noqa: N802 (python-markdown's name)
        match = _LINK_TEXT.match(data, index)
        if match is None:
            return "", index, False
        return data[index:match.end() - 1], match.end(), True


class _Link(_BoundedText, inlinepatterns.LinkInlineProcessor):
    def getLink(self, data: str, index: int) -> tuple[str, str | None, int, bool]:  # noqa: N802
        """python-markdown's own parsing of ``(href "title")``, shown only the part up to the
        parenthesis that closes the opening one (or a title's end shortly after it)."""
        match = self.RE_LINK.match(data, index)
        if match is None or match.group(1):  # no "(" here, or "(<href>)"
            return super().getLink(data, index)
        target = _LINK_TARGET.match(data, index + 1)
        end = target.end() if target else None
        # A title in quotes may hold a parenthesis of its own: [a](href "b (c")
        title = _TITLE_END.search(data, index + 1, (end or index) + MAX_TITLE_OVERHANG)
        if title is not None:
            end = max(end or 0, title.end())
        if end is None:
            return "", None, index, False
        href, title_text, stop, handled = super().getLink(data[index:end], 0)
        if stop < 0:  # python-markdown lost its place in an unclosed title (and dropped the rest of the text)
            return "", None, index, False
        return href, title_text, index + stop, handled


@functools.lru_cache(maxsize=64)
def _ticks(count: int, exactly: bool = True) -> re.Pattern:
    # Beginning with the backtick lets the search skip ahead to each one (five times as fast).
    return re.compile(f"`{{{count}}}(?<!`{{{count + 1}}})(?!`)" if exactly else f"`{{{count}}}")


_TICK_RUN = re.compile("`+")


class _Backtick(inlinepatterns.BacktickInlineProcessor):
    def find_code_spans(self, start: int, text: str) -> tuple[int, int | None]:
        """python-markdown's pairing of backtick runs (the same run length closes a span, else
        the longest shorter one), looked for by patterns no further than MAX_CODE_SPAN ahead:
        python-markdown read to the end of the paragraph, one character at a time, from every
        run that does not close (quadratic: 50,000 characters took minutes)."""
        opening = _TICK_RUN.match(text, start)
        if opening is None:
            return start, None
        ticks, start = len(opening.group()), opening.end()
        window = min(len(text), start + MAX_CODE_SPAN)
        if window < len(text) and text[window] == "`":  # a run cut by the window's end does not count
            while window > start and text[window - 1] == "`":
                window -= 1
        closing = _ticks(ticks).search(text, start, window)
        if closing is not None:
            return start, closing.start()
        if _ticks(ticks, exactly=False).search(text, start, window) is None:  # every run is shorter
            runs = _TICK_RUN.findall(text, start, window)
            if runs:
                length = max(map(len, runs))
                return start - (ticks - length), _ticks(length).search(text, start, window).start()
        return start + ticks, None


class _Reference(_BoundedText, inlinepatterns.ReferenceInlineProcessor):
    pass


class _ShortReference(_BoundedText, inlinepatterns.ShortReferenceInlineProcessor):
    pass


class _ShortImageReference(_BoundedText, inlinepatterns.ShortImageReferenceInlineProcessor):
    pass


def plain_text(body_html: str) -> str:
    """Readable text of rendered HTML (search index, snippets, notification mails)."""
    text = _TAG.sub(" ", body_html)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()

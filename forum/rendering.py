"""Markdown → sanitised HTML: the one path user text takes to a page.

Rendered once on save; templates print the stored HTML with ``|safe`` at that one field.
"""
from __future__ import annotations

import bisect
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
    md.inlinePatterns.register(_Reference(inlinepatterns.REFERENCE_RE, md), "reference", 170)
    md.inlinePatterns.register(_Link(inlinepatterns.LINK_RE, md), "link", 160)
    md.inlinePatterns.register(_ShortReference(inlinepatterns.REFERENCE_RE, md), "short_reference", 130)
    md.inlinePatterns.register(_ShortImageReference(inlinepatterns.IMAGE_REFERENCE_RE, md), "short_image_ref", 125)
    return md


# -- bounded cost -------------------------------------------------------------------------------

_MARKER = r"(?:>|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t]))"
_DEEP_LINE = re.compile(
    rf"^((?:[ \t]*{_MARKER}){{{MAX_BLOCK_NESTING}}}[ \t]*)(?:(\d{{1,9}})(?=[.)][ \t])|(?=>|[-+*][ \t]))", re.M)


_TITLE_END = re.compile(r"[\"'][ ]*\)")


def _bound_block_nesting(source: str) -> str:
    """A line's quote and list markers beyond MAX_BLOCK_NESTING are escaped ("\\>", "\\-", "1\\."),
    so they read as text."""
    return _DEEP_LINE.sub(lambda m: m.group(1) + (m.group(2) or "") + "\\", source)


def _closing(data: str, opening: str, closing: str) -> dict[int, tuple[int, int]]:
    """For each index just past an opening character of ``data``: the index just past the
    character that closes it and how deep the brackets inside it nest. One pass, so asking
    for every "[" of a text costs as much as reading it once."""
    spans: dict[int, tuple[int, int]] = {}
    stack: list[list[int]] = []  # [index past the opening, deepest nesting inside]
    for match in re.finditer(f"[{re.escape(opening + closing)}]", data):
        if match.group() == opening:
            stack.append([match.end(), 0])
        elif stack:
            start, inner = stack.pop()
            spans[start] = (match.end(), inner)
            if stack:
                stack[-1][1] = max(stack[-1][1], inner + 1)
    return spans


class _BoundedText:
    """The text of a link in brackets, found through one pass over the data instead of a scan
    from each "[" to the end; nested deeper than MAX_LINK_NESTING it is no link."""

    def _span(self, data: str, index: int, opening: str, closing: str) -> tuple[int, int] | None:
        cache = self.__dict__.setdefault("_spans", {})
        cached = cache.get(opening)
        if cached is None or cached[0] is not data:
            cached = cache[opening] = (data, _closing(data, opening, closing))
        return cached[1].get(index)

    def getText(self, data: str, index: int) -> tuple[str, int, bool]:  # noqa: N802 (python-markdown's name)
        span = self._span(data, index, "[", "]")
        if span is None or span[1] > MAX_LINK_NESTING:
            return "", index, False
        return data[index:span[0] - 1], span[0], True


class _Link(_BoundedText, inlinepatterns.LinkInlineProcessor):
    def getLink(self, data: str, index: int) -> tuple[str, str | None, int, bool]:  # noqa: N802
        """python-markdown's own parsing of ``(href "title")``, but never past the parenthesis
        that closes the opening one."""
        match = self.RE_LINK.match(data, index)
        if match is None or match.group(1):  # no "(" here, or "(<href>)"
            return super().getLink(data, index)
        span = self._span(data, index + 1, "(", ")")
        if span is not None and span[1] > MAX_LINK_NESTING:
            return "", None, index, False
        end = span[0] if span is not None else index
        # A title in quotes may hold parentheses: [a](href "b (c")
        cache = self.__dict__.setdefault("_spans", {})
        if cache.get("title", (None,))[0] is not data:
            cache["title"] = (data, [m.end() for m in _TITLE_END.finditer(data)])
        title_ends = cache["title"][1]
        after = bisect.bisect_right(title_ends, index + 1)
        if after < len(title_ends) and title_ends[after] - end <= MAX_TITLE_OVERHANG:
            end = max(end, title_ends[after])
        if end == index:
            return "", None, index, False
        return super().getLink(data[:end], index)


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

"""Markdown → sanitised HTML: the one path user text takes to a page.

Rendered once on save; templates print the stored HTML with ``|safe`` at that one field.
"""
from __future__ import annotations

import bisect
import functools
import html
import operator
import re
import threading
import xml.etree.ElementTree as etree

import markdown
import nh3
from markdown import blockprocessors, inlinepatterns, treeprocessors
from markdown.extensions import tables
from markdown.util import AtomicString

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
MAX_BLOCKS = 3000  # paragraphs, headings, list items, quotes … in one post (a normal 50,000-character post: 1,340)
MAX_TABLE_CELLS = 5000  # in one post, a row counting as one more (a normal 50,000-character post: 820)
# links (and attempts at one), emphasis, code spans, escapes, line breaks … in one post
# (a normal 50,000-character post: 820)
MAX_INLINE_MATCHES = 3000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# "[^<>]", not "[^>]": on a run of "<" the latter scans to the end from each one (quadratic); the
# HTML here comes from the cleaner, which escapes every "<" that does not open a tag.
_TAG = re.compile(r"<[^<>]+>")


# Addresses in text become links where bleach's linkifier made them links: names ending in one of
# these top-level domains (bleach's list), with or without http(s)://, outside <a>, <pre>, <code>.
TLDS = frozenset("""ac ad ae aero af ag ai al am an ao aq ar arpa as asia at au aw ax az ba bb bd be bf bg
    bh bi biz bj bm bn bo br bs bt bv bw by bz ca cat cc cd cf cg ch ci ck cl cm cn co com coop cr cu cv cx
    cy cz de dj dk dm do dz ec edu ee eg er es et eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gov
    gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in info int io iq ir is it je jm jo jobs jp ke kg
    kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mg mh mil mk ml mm mn mo mobi mp
    mq mr ms mt mu museum mv mw mx my mz na name nc ne net nf ng ni nl no np nr nu nz om org pa pe pf pg ph
    pk pl pm pn post pr pro ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st
    su sv sx sy sz tc td tel tf tg th tj tk tl tm tn to tp tr travel tt tv tw tz ua ug uk us uy uz va vc ve
    vg vi vn vu wf ws xn xxx ye yt yu za zm zw""".split())
# Linear: a match starts only where a word starts outside an address or path, and every part is
# possessive, so each character is read once; which names count is decided after the match.
_URL = re.compile(r"""(?<![\w@./:-])(?P<scheme>https?://)?
    (?P<host>\w[\w-]*+(?:\.[\w-]++)++)(?::[0-9]{1,5}+(?![\w.]))?
    (?:[/?][^\s{}|\\^`<>"]*+)?""", re.IGNORECASE | re.VERBOSE)
_NO_LINKS_INSIDE = frozenset({"a", "pre", "code"})


def _address(text: str, match: re.Match) -> tuple[str, int] | None:
    """The address a match stands for and where it ends, without the sentence's closing
    punctuation or a parenthesis it did not open; None if it is no address."""
    if match.group("host").rpartition(".")[2].lower() not in TLDS:
        return None
    end = match.end()
    unopened = text.count(")", match.start(), end) - text.count("(", match.start(), end)
    while end > match.end("host"):
        last = text[end - 1]
        if last in ".,":
            end -= 1
        elif last == ")" and unopened > 0:
            end, unopened = end - 1, unopened - 1
        else:
            break
    return text[match.start():end], end


def _links_in(text: str) -> tuple[str, list]:
    """``text`` up to its first address, and a link element per address with the text after
    it as its tail."""
    head, links, at = None, [], 0
    for match in _URL.finditer(text):
        found = _address(text, match)
        if found is None:
            continue
        address, end = found
        before = text[at:match.start()]
        if links:
            links[-1].tail = before
        else:
            head = before
        link = etree.Element("a", {"href": address if match.group("scheme") else "http://" + address})
        link.text = AtomicString(address)
        links.append(link)
        at = end
    if not links:
        return text, links
    links[-1].tail = text[at:]
    return head, links


class _Linkify(treeprocessors.Treeprocessor):
    """Bare addresses in text become links, as bleach's linkifier made them; after python-markdown's
    own processors, so escapes and emphasis are resolved and links it made are left alone."""

    def run(self, root) -> None:
        pending = [root]
        while pending:
            element = pending.pop()
            children = []
            if element.text and "." in element.text:  # every address has a dot
                element.text, links = _links_in(element.text)
                children.extend(links)
            for child in list(element):
                if child.tag not in _NO_LINKS_INSIDE:
                    pending.append(child)
                children.append(child)
                if child.tail and "." in child.tail:
                    child.tail, links = _links_in(child.tail)
                    children.extend(links)
            if len(children) != len(element):
                element[:] = children


# nh3 (the Rust sanitizer ammonia) parses and serialises in linear time; rel is set afterwards,
# from the href that survived cleaning.
_NH3_ATTRIBUTES = {tag: set(names) - {"rel"} for tag, names in ALLOWED_ATTRIBUTES.items()}
_LINK_TAG = re.compile(r'<a((?: [\w-]+="[^"]*")*+)>')
_HREF = re.compile(r' href="([^"]*)"')


def _set_rel(match: re.Match) -> str:
    """Every link to elsewhere gets rel=nofollow noopener ugc; a link within the page does not."""
    href = _HREF.search(match.group(1))
    if href is None or not href.group(1) or href.group(1).startswith("#"):
        return match.group()
    return f'<a{match.group(1)} rel="{LINK_REL}">'


# What a browser ignores inside a scheme name ("java\tscript:", "java\u200bscript:").
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f-\xa0\s\u200b-\u200f\u2028\u2029\ufeff`]+")
_SCHEME = re.compile(r"([^/?#]*):")


def _allowed_attribute(tag: str, name: str, value: str) -> str | None:
    """nh3 passes a URL it cannot parse as relative; one that would read as a scheme once blanks and
    invisible characters are gone must be an allowed one, as bleach required."""
    if name == "href":
        scheme = _SCHEME.match(_IGNORED_IN_SCHEME.sub("", value))
        if scheme is not None and scheme.group(1).lower() not in ALLOWED_PROTOCOLS:
            return None
    return value


def _clean(html_text: str) -> str:
    cleaned = nh3.clean(html_text, tags=set(ALLOWED_TAGS), attributes=_NH3_ATTRIBUTES,
                        attribute_filter=_allowed_attribute, url_schemes=set(ALLOWED_PROTOCOLS),
                        strip_comments=True, link_rel=None)
    return _LINK_TAG.sub(_set_rel, cleaned)


def has_control_characters(text: str) -> bool:
    """Control and bidi-override characters other than tab and newlines."""
    return bool(_CONTROL.search(text))


def normalise(text: str) -> str:
    """Line endings to \\n, surrounding whitespace removed."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def render(source: str) -> str:
    """Markdown to HTML that is safe to print as is."""
    # Building a converter costs as much as using it, and it is not thread-safe: one per
    # thread, reset per call.
    if not hasattr(_per_thread, "markdown"):
        _per_thread.markdown = _markdown()
    md = _per_thread.markdown
    md.reset()
    return _clean(md.convert(_bound_block_nesting(source)))


_per_thread = threading.local()


def _markdown() -> markdown.Markdown:
    """A converter that treats raw HTML as text and images as plain links (no tracking
    pixels from other hosts); nh3 still cleans whatever comes out."""
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
    md.treeprocessors.register(_Inline(md), "inline", 20)
    md.treeprocessors.register(_Linkify(md), "linkify", -10)  # after "unescape" (0)
    md.parser.blockprocessors.register(_HashHeader(md.parser), "hashheader", 70)
    table = md.parser.blockprocessors["table"]
    md.parser.blockprocessors.register(_Table(md.parser, table.config), "table", 75)
    md.parser.blockprocessors.register(_BlockBudget(md.parser), "budget", 1000)  # tested first, on every block
    for processor in (md.parser.blockprocessors["table"], md.parser.blockprocessors["budget"]):
        md.registerExtension(processor)  # md.reset() resets their budgets
    return md


# -- bounded cost -------------------------------------------------------------------------------

_MARKER = r"(?:>|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t]))"
_DEEP_LINE = re.compile(
    rf"^((?:[ \t]*{_MARKER}){{{MAX_BLOCK_NESTING}}}[ \t]*)(?:(\d{{1,9}})(?=[.)][ \t])|(?=>|[-+*][ \t]))", re.M)


# Every inline pattern needs one of these characters ("nl" a line break, "linebreak" two blanks
# before one, "short_image_ref" a "[" after the "!").
_INLINE_MARKUP = re.compile(r"[`\\\[<&*_\n]")


class _Inline(treeprocessors.InlineProcessor):
    """python-markdown's inline pass, bounded: text with none of the characters inline Markdown is
    made of is left as it is (python-markdown tries each of its patterns on every text, 30 µs a
    table cell or list item), and after MAX_INLINE_MATCHES matches in one post the rest of its
    text stays as written (each match costs about 30 µs and copies the text it is in: 25,000
    escaped backslashes took 0.7 s)."""

    budget = MAX_INLINE_MATCHES

    def run(self, tree, ancestors=None):
        self.budget = MAX_INLINE_MATCHES
        return super().run(tree, ancestors)

    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:  # noqa: N802, N803
        """python-markdown's loop over its patterns, counting matches."""
        if isinstance(data, AtomicString) or self.budget <= 0 or _INLINE_MARKUP.search(data) is None:
            return data
        start, count = 0, len(self.inlinePatterns)
        while patternIndex < count and self.budget > 0:
            data, matched, start = self._InlineProcessor__applyPattern(
                self.inlinePatterns[patternIndex], data, patternIndex, start)
            if matched:
                self.budget -= 1
            else:
                patternIndex += 1
        return data


_HASH_LINE = re.compile(r"\n#")


class _HashHeader(blockprocessors.HashHeaderProcessor):
    """python-markdown looks for a line beginning with "#" through the whole block every time a
    block loses its first line or two (setext headings, list items): quadratic on 25,000 lines of
    "-". Where those lines begin is found once for a block; a block that is the rest of it has
    them from there, and the pattern starts at the first one."""

    _block = ""
    _from_end: list[int] = []  # the newlines before "#", as distances from the block's end, descending

    def test(self, parent, block: str) -> bool:
        if not (len(block) <= len(self._block) and self._block.endswith(block)):
            self._block = block
            self._from_end = [len(block) - m.start() for m in _HASH_LINE.finditer(block)]
        # the first newline before "#" lying in this block: distances are descending, so bisect on their negation
        i = bisect.bisect_left(self._from_end, -len(block), key=operator.neg)
        if block.startswith("#"):
            return bool(self.RE.search(block))
        if i == len(self._from_end):
            return False
        return bool(self.RE.search(block, len(block) - self._from_end[i]))


class _BlockBudget(blockprocessors.BlockProcessor):
    """After MAX_BLOCKS blocks the rest of the post is one paragraph of text as written: python-markdown
    tries a dozen processors on each block (25,000 lines of "-" made 12,500 headings: 0.3 s)."""

    left = MAX_BLOCKS

    def reset(self) -> None:
        self.left = MAX_BLOCKS

    def test(self, parent, block: str) -> bool:
        self.left -= 1
        return self.left < 0

    def run(self, parent, blocks: list[str]) -> None:
        etree.SubElement(parent, "p").text = "\n\n".join(blocks).strip("\n")
        del blocks[:]


class _Table(tables.TableProcessor):
    """A post's tables have at most MAX_TABLE_CELLS cells, a row counting as one more; rows beyond
    them are text (12,500 rows took 0.3 s)."""

    left = MAX_TABLE_CELLS

    def reset(self) -> None:
        self.left = MAX_TABLE_CELLS

    def run(self, parent, blocks: list[str]) -> None:
        lines = blocks[0].split("\n")
        per_row = max(len(self.separator), 1) + 1  # its cells and the row
        rows = max(self.left // per_row, 1)
        if len(lines) > rows + 2:  # the header and separator lines, then the rows
            blocks[0:1] = ["\n".join(lines[:rows + 2]), "\n".join(lines[rows + 2:])]
        self.left -= per_row * min(rows, len(lines) - 2)
        super().run(parent, blocks)


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
    (python-markdown scans to the end of the paragraph from every "[" that does not close). Each
    attempt at a link counts against the post's inline budget, one that fails too (12,000 of
    those cost 0.5 s)."""

    def handleMatch(self, m: re.Match, data: str):  # noqa: N802 (python-markdown's name)
        inline = self.md.treeprocessors["inline"]
        if inline.budget <= 0:
            return None, None, None
        inline.budget -= 1
        return super().handleMatch(m, data)

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
        closing = self._first(text, ticks, True, start, window)
        if closing is not None:
            return start, closing
        if self._first(text, ticks, False, start, window) is None:  # every run is shorter
            runs = _TICK_RUN.findall(text, start, window)
            if runs:
                length = max(map(len, runs))
                return start - (ticks - length), _ticks(length).search(text, start, window).start()
        return start + ticks, None

    _text: str | None = None
    _found: dict

    def _first(self, text: str, ticks: int, exactly: bool, start: int, window: int) -> int | None:
        """Where the first run of ``ticks`` backticks (or more) in ``text[start:window]`` begins.
        python-markdown hands back the same text after a run that does not close, and the next
        run would read the same window again (1,000 characters per backtick); what the last
        search of this text found, or read without finding, is reused. Windows never end inside
        a run, so a run found before one window's end is whole in the next."""
        if text is not self._text:
            self._text, self._found = text, {}
        key = (ticks, exactly)
        known = self._found.get(key)
        begin = start
        if known is not None and known[0] <= start:
            searched_from, searched_to, position = known
            if position is not None and position >= start:
                return position if position + ticks <= window else None
            if position is None:
                if window <= searched_to:
                    return None
                begin, start = max(start, searched_to), searched_from
        match = _ticks(ticks, exactly).search(text, begin, window)
        position = match.start() if match else None
        self._found[key] = (start, window, position)
        return position


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

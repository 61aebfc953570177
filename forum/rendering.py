"""Markdown → sanitised HTML: the one path user text takes to a page.

Rendered once on save; templates print the stored HTML with ``|safe`` at that one field.
"""
from __future__ import annotations

import html
import re
import threading
from functools import partial

import bleach
import markdown
from bleach.linkifier import LinkifyFilter

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

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_TAG = re.compile(r"<[^>]+>")


def _set_rel(attrs: dict, new: bool = False) -> dict:
    """Every link to elsewhere gets rel=nofollow noopener ugc."""
    href_key = (None, "href")
    href = attrs.get(href_key, "")
    if not href or href.startswith("#"):
        return attrs
    attrs[(None, "rel")] = LINK_REL
    return attrs


def _cleaner() -> bleach.Cleaner:
    """Cleaning and linkifying in one pass (a separate Linker re-escapes text inside <code>)."""
    return bleach.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[partial(LinkifyFilter, callbacks=[_set_rel], skip_tags={"pre", "code"}, parse_email=False)],
    )


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
    return _per_thread.cleaner.clean(md.convert(source))


_per_thread = threading.local()


def _markdown() -> markdown.Markdown:
    """A converter that treats raw HTML as text and images as plain links (no tracking
    pixels from other hosts); bleach still cleans whatever comes out."""
    md = markdown.Markdown(extensions=EXTENSIONS, output_format="html")
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    md.inlinePatterns.deregister("image_link")
    md.inlinePatterns.deregister("image_reference")
    return md


def plain_text(body_html: str) -> str:
    """Readable text of rendered HTML (search index, snippets, notification mails)."""
    text = _TAG.sub(" ", body_html)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()

"""Markdown → sanitised HTML: allowlist, safe links, no raw HTML."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from forum.rendering import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, has_control_characters, plain_text, render


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def elements(html: str):
    parser = _Elements()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[klick](javascript:alert(1))",
    "[klick](JaVaScRiPt:alert(1))",
    "[klick](data:text/html;base64,PHNjcmlwdD4=)",
    "[klick](vbscript:msgbox(1))",
    "![bild](javascript:alert(1))",
    "<a href=\"https://x.de\" onclick=\"alert(1)\">x</a>",
    "<svg onload=alert(1)>",
    "<iframe src=https://x.de></iframe>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "[x](&#106;avascript:alert(1))",
    "<<script>script>alert(1)<</script>/script>",
    # Issue 15, point 1 (nh3 instead of bleach): what a browser would read as a scheme once the
    # blanks, invisible characters and entities are gone is one of the allowed ones
    "[klick](java\tscript:alert(1))",
    "[klick](java\u200bscript:alert(1))",
    "[klick](javascript&colon;alert(1))",
    "[klick](%6A%61%76%61%73%63%72%69%70%74:alert(1))",
])
def test_no_script_survives(source):
    """Only allowlisted elements and attributes come out; links only to http(s)/mailto."""
    html = render(source)
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS, (source, html)
        for name, value in attrs:
            assert name in ALLOWED_ATTRIBUTES.get(tag, []), (source, html)
            if name == "href":
                assert value.split(":", 1)[0].lower() in ("http", "https", "mailto"), (source, html)


def test_markdown_features():
    html = render("### Überschrift\n\n**fett** und `code`\n\n- eins\n- zwei\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                  "```\n<b>roh</b>\n```\n\n> Zitat\n\nZeile 1\nZeile 2")
    for fragment in ("<h3>Überschrift</h3>", "<strong>fett</strong>", "<code>code</code>", "<li>eins</li>",
                     "<table>", "&lt;b&gt;roh&lt;/b&gt;", "<blockquote>", "Zeile 1<br>"):
        assert fragment in html


def test_links_get_rel_nofollow_noopener_ugc():
    html = render("[HWK](https://www.hwk-muenster.de) und https://example.org")
    assert html.count('rel="nofollow noopener ugc"') == 2


def test_links_within_the_page_get_no_rel():
    """Issue 15, point 1: the rel that nh3 cannot set by the href is set afterwards, as before."""
    html = render("[oben](#oben) [HWK](https://www.hwk-muenster.de) [leer]()")
    assert '<a href="#oben">oben</a>' in html and '<a href="">leer</a>' in html
    assert '<a href="https://www.hwk-muenster.de" rel="nofollow noopener ugc">HWK</a>' in html


def test_addresses_in_text_become_links_but_not_in_code():
    """Issue 15, point 1: bleach's linkifier replaced by a linear pass with the same rules: addresses
    ending in a known top-level domain, without the sentence's full stop or a parenthesis opened
    before it (bleach took that one into the address), never inside code or another link."""
    html = render("Siehe www.hwk-muenster.de. (Plan: https://example.org/plan_(2).pdf) und hwk.de, "
                  "`https://example.org/code` [x](https://example.org/a) example.invalid\n\n"
                  "```\nhttps://example.org/block\n```")
    assert [href for tag, attrs in elements(html) for name, href in attrs if name == "href"] == [
        "http://www.hwk-muenster.de", "https://example.org/plan_(2).pdf", "http://hwk.de", "https://example.org/a"]
    assert html.count('rel="nofollow noopener ugc"') == 4
    assert "<code>https://example.org/code</code>" in html and "https://example.org/block\n</code>" in html


def test_images_are_links_not_embedded():
    html = render("![Plan](https://example.org/plan.png)")
    assert "<img" not in html and 'href="https://example.org/plan.png"' in html


def test_control_characters_are_detected():
    assert has_control_characters("a\x00b") and has_control_characters("rechts\u202elinks")
    assert not has_control_characters("Zeile\nZeile\tTab")


def test_plain_text_strips_tags_and_entities():
    assert plain_text(render("**Wärme** & <Pumpe>")) == "Wärme & <Pumpe>"

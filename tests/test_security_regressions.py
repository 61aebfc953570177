"""Issue 15: what an attacker tried as a member, an outsider and a promoted admin. One section
per point of the issue handled here (points 1, 2/3, 4, 10, 11 have files of their own:
test_rendering_cost.py, test_token_lifetime.py, test_search_scope_statistics.py,
test_bad_input.py, test_account_security.py)."""
from __future__ import annotations

import pytest

from forum.web.redirects import local_target
from tests import factories

# -- point 5: open redirects ------------------------------------------------------------------------

HOSTILE_TARGETS = [
    "/\t/evil.example", "/%09/evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example",
    "/\n/evil.example", "/\r\n/evil.example", " //evil.example", "/\x00/evil.example", "https://evil.example/",
    "javascript:alert(1)", "http:/evil.example", "/\u3000/evil.example", "/\u200b/evil.example",
    "evil.example", "", "/\x7f/evil.example",
]


@pytest.mark.parametrize("raw", HOSTILE_TARGETS)
def test_a_next_parameter_never_leaves_the_site(raw):
    from urllib.parse import unquote
    for value in (raw, unquote(raw)):
        target = local_target(value, "/")
        assert target.startswith("/") and not target.startswith("//") and "\\" not in target
        assert "evil.example" not in target or target.startswith("/") and "//" not in target


def test_a_local_path_keeps_its_query_and_fragment():
    assert local_target("/t/5?seite=2#p9", "/") == "/t/5?seite=2#p9"
    assert local_target("/suche?q=W%C3%A4rmepumpe", "/") == "/suche?q=W%C3%A4rmepumpe"


def _location(response) -> str:
    return response.headers.get("Location", "")


def _stays_local(location: str) -> bool:
    from urllib.parse import urlsplit
    parts = urlsplit(location)
    return (parts.netloc in ("", "forum.test") and not parts.path.startswith("//") and "\\" not in location
            and not any(ord(c) < 0x21 for c in location))


@pytest.mark.parametrize("raw", ["/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example"])
def test_login_does_not_redirect_elsewhere(world, client, raw):
    response = client.post("/login", query_string={"next": raw},
                           data={"login": world.member.username, "password": factories.PASSWORD})
    assert response.status_code == 302 and _stays_local(_location(response)), _location(response)


def test_login_with_the_reported_next_goes_home(world, client):
    response = client.post("/login?next=/%09/evil.example",
                           data={"login": world.member.username, "password": factories.PASSWORD})
    assert _location(response) in ("/", "http://forum.test/")


@pytest.mark.parametrize("raw", ["/\t/evil.example", "//evil.example", "/\\evil.example"])
def test_language_switch_does_not_redirect_elsewhere(client, raw):
    response = client.post("/sprache", data={"locale": "de", "next": raw})
    assert response.status_code == 302 and _stays_local(_location(response)), _location(response)


@pytest.mark.parametrize("raw", ["/\t/evil.example", "//evil.example", "/\\evil.example"])
def test_marking_notifications_read_does_not_redirect_elsewhere(world, login, raw):
    client = login(world.member)
    response = client.post("/benachrichtigungen/gelesen", data={"next": raw})
    assert response.status_code == 302 and _stays_local(_location(response)), _location(response)

"""Rate limits on writing (forum/limits.py): posts, reports and invitations per account – web
and API together –, password resets per IP address and per entered address without revealing
which accounts exist, and the 429 answer: German, with Retry-After, in the API's error shape.

The ``app`` fixture turns the limiter off; here it is on, with small amounts and fresh counters.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from forum.extensions import limiter
from forum.models import Invitation, Post, Report, Thread
from tests import factories
from tests.test_openapi import SpecCheckingClient

API = "/api/v1"
POSTS_TEXT = "sehr viele Beiträge geschrieben"


@pytest.fixture(autouse=True)
def limited(app):
    """Limits on for this app (before its first request), every /api/v1 answer checked against
    the OpenAPI document, counters empty before and after."""
    app.config.update(RATELIMIT_ENABLED=True, LIMIT_POSTS="3 per hour", LIMIT_REPORTS="2 per hour",
                      LIMIT_INVITES="3 per hour", LIMIT_PASSWORD_RESET="100 per minute",
                      LIMIT_PASSWORD_RESET_ADDRESS="3 per hour")
    limiter.init_app(app)
    app.test_client_class = SpecCheckingClient
    limiter.reset()
    yield limiter
    limiter.reset()
    limiter.enabled = False


def assert_page_429(response, text: str) -> str:
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert text in page
    assert re.search(r"Versuchen Sie es in \d+ (Sekunden?|Minuten|Stunden) wieder\.", page)
    assert " per " not in page  # not Flask-Limiter's English "3 per 1 hour"
    assert 1 <= int(response.headers["Retry-After"]) <= 3601
    return page


def assert_api_429(response, text: str) -> dict:
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited" and text in error["message"]
    assert set(response.get_json()) == {"error"} and set(error) == {"code", "message"}
    assert 1 <= int(response.headers["Retry-After"]) <= 3601
    return error


def reply(client, thread: Thread, body: str = "Eine Antwort mit Inhalt", **extra):
    return client.post(f"/t/{thread.id}/antworten", data={"body": body, **extra})


def post_count(db, thread: Thread) -> int:
    return db.session.scalar(select(func.count()).select_from(Post).where(Post.thread_id == thread.id))


# -- posting --------------------------------------------------------------------------------------

def test_web_replies_stop_at_the_limit_with_a_german_429(world, login, client, db):
    login(world.member)
    assert [reply(client, world.thread_a).status_code for _ in range(3)] == [302] * 3
    before = post_count(db, world.thread_a)
    page = assert_page_429(reply(client, world.thread_a), POSTS_TEXT)
    assert "Zurück" in page  # the text is not lost: the browser's back button has it
    assert post_count(db, world.thread_a) == before


def test_new_thread_reply_and_edit_share_one_budget_on_the_web(world, login, client, db):
    login(world.member)
    new = client.post(f"/b/{world.board_a.id}/neu", data={"title": "Ein neues Thema", "body": "Der Anfang"})
    assert new.status_code == 302
    assert reply(client, world.thread_a).status_code == 302
    own = db.session.scalar(select(Post).where(Post.author_id == world.member.id).order_by(Post.id.desc()))
    assert client.post(f"/p/{own.id}/bearbeiten", data={"body": "Verbessert"}).status_code == 302
    assert_page_429(reply(client, world.thread_a), POSTS_TEXT)
    assert_page_429(client.post(f"/b/{world.board_a.id}/neu", data={"title": "Noch eins", "body": "x"}), POSTS_TEXT)
    assert_page_429(client.post(f"/p/{own.id}/bearbeiten", data={"body": "Noch besser"}), POSTS_TEXT)
    assert client.get(f"/t/{world.thread_a.id}/antworten").status_code == 200  # reading the form is not limited


def test_previews_and_failed_posts_do_not_use_up_the_budget(world, login, client, db):
    login(world.member)
    for _ in range(4):
        assert reply(client, world.thread_a, "Nur ansehen", action="preview").status_code == 200
        assert reply(client, world.thread_a, "").status_code == 400
    assert [reply(client, world.thread_a).status_code for _ in range(3)] == [302] * 3
    assert_page_429(reply(client, world.thread_a), POSTS_TEXT)
    assert reply(client, world.thread_a, "Vorschau geht noch", action="preview").status_code == 200


def test_api_posts_stop_at_the_limit_with_the_json_error_shape(world, client, api_token, db):
    member = api_token(world.member)
    created = client.post(f"{API}/boards/{world.board_a.id}/threads", json={"title": "Per API", "body": "Hallo"},
                          headers=member)
    assert created.status_code == 201
    first_post = created.get_json()["first_post"]["id"]
    url = f"{API}/threads/{world.thread_a.id}/posts"
    assert client.post(url, json={"body": "Antwort"}, headers=member).status_code == 201
    assert client.patch(f"{API}/posts/{first_post}", json={"body": "Hallo!"}, headers=member).status_code == 200
    before = post_count(db, world.thread_a)
    error = assert_api_429(client.post(url, json={"body": "zu viel"}, headers=member), POSTS_TEXT)
    assert "Browser" not in error["message"]
    assert_api_429(client.post(f"{API}/boards/{world.board_a.id}/threads", json={"title": "T", "body": "B"},
                               headers=member), POSTS_TEXT)
    assert_api_429(client.patch(f"{API}/posts/{first_post}", json={"body": "Hallo!!"}, headers=member), POSTS_TEXT)
    assert post_count(db, world.thread_a) == before
    assert client.get(f"{API}/threads/{world.thread_a.id}", headers=member).status_code == 200  # reading goes on


def test_failed_api_writes_do_not_count(world, client, api_token):
    member = api_token(world.member)
    url = f"{API}/threads/{world.thread_a.id}/posts"
    for _ in range(4):
        assert client.post(url, json={"body": ""}, headers=member).status_code == 400
    assert [client.post(url, json={"body": "Gut"}, headers=member).status_code for _ in range(4)] == [201] * 3 + [429]


def test_web_and_api_count_together_for_one_account(world, login, client, api_token):
    member = api_token(world.member)
    login(world.member)
    assert [reply(client, world.thread_a).status_code for _ in range(2)] == [302, 302]
    url = f"{API}/threads/{world.thread_a.id}/posts"
    assert client.post(url, json={"body": "per API"}, headers=member).status_code == 201
    assert_api_429(client.post(url, json={"body": "per API"}, headers=member), POSTS_TEXT)
    assert_page_429(reply(client, world.thread_a), POSTS_TEXT)


def test_every_account_has_its_own_budget_even_from_one_address(world, login, client, api_token):
    member, manager = api_token(world.member), api_token(world.manager)
    url = f"{API}/threads/{world.thread_a.id}/posts"
    assert [client.post(url, json={"body": "a"}, headers=member).status_code for _ in range(4)] == [201] * 3 + [429]
    # same client, same IP address, another account: untouched
    assert client.post(url, json={"body": "b"}, headers=manager).status_code == 201
    login(world.manager)
    assert reply(client, world.thread_a).status_code == 302
    assert reply(client, world.thread_a).status_code == 302
    assert reply(client, world.thread_a).status_code == 429
    assert client.post(url, json={"body": "a"}, headers=member).status_code == 429


# -- reports --------------------------------------------------------------------------------------

def test_reports_are_limited_per_account_on_web_and_api(world, login, client, api_token, db):
    posts = [factories.reply(world.thread_a, world.manager, f"Beitrag {n}") for n in range(5)]
    member = api_token(world.member)
    login(world.member)
    text = "sehr viele Beiträge gemeldet"
    assert client.post(f"/p/{posts[0].id}/melden", data={"reason": "spam"}).status_code == 302
    assert client.post(f"{API}/posts/{posts[1].id}/reports", json={"reason": "spam"}, headers=member).status_code == 201
    assert_page_429(client.post(f"/p/{posts[2].id}/melden", data={"reason": "spam"}), text)
    assert_api_429(client.post(f"{API}/posts/{posts[3].id}/reports", json={"reason": "spam"}, headers=member), text)
    assert db.session.scalar(select(func.count()).select_from(Report)) == 2
    colleague = factories.member(world.cluster_a, factories.user("carla.kollegin"))
    other = api_token(colleague)
    assert client.post(f"{API}/posts/{posts[3].id}/reports", json={"reason": "spam"}, headers=other).status_code == 201


def test_refused_reports_do_not_count(world, client, api_token):
    posts = [factories.reply(world.thread_a, world.manager, f"Beitrag {n}") for n in range(3)]
    member = api_token(world.member)
    url = f"{API}/posts/{posts[0].id}/reports"
    assert client.post(url, json={"reason": "spam"}, headers=member).status_code == 201
    assert [client.post(url, json={"reason": "spam"}, headers=member).status_code for _ in range(3)] == [409] * 3
    assert client.post(f"{API}/posts/{posts[1].id}/reports", json={"reason": "spam"}, headers=member).status_code == 201
    assert client.post(f"{API}/posts/{posts[2].id}/reports", json={"reason": "spam"}, headers=member).status_code == 429


# -- invitations ----------------------------------------------------------------------------------

def test_invitations_count_each_address_per_account_on_web_and_api(world, login, client, api_token, db):
    text = "sehr viele Einladungen verschickt"
    manager = api_token(world.manager)
    login(world.manager)
    invites = f"/c/{world.cluster_a.slug}/verwaltung/einladungen"
    two = {"emails": "eins@example.org, zwei@example.org", "role": "member"}
    assert client.post(invites, data=two).status_code == 302
    api = f"{API}/clusters/{world.cluster_a.slug}/invites"
    assert client.post(api, json={"email": "drei@example.org"}, headers=manager).status_code == 201
    assert_api_429(client.post(api, json={"email": "vier@example.org"}, headers=manager), text)
    assert_page_429(client.post(invites, data={"emails": "fuenf@example.org", "role": "member"}), text)
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 3
    # another manager (another cluster) has a budget of their own; four addresses at once exceed it
    login(world.manager_b)
    invites_b = f"/c/{world.cluster_b.slug}/verwaltung/einladungen"
    four = "a@example.org b@example.org c@example.org d@example.org"
    assert_page_429(client.post(invites_b, data={"emails": four, "role": "member"}), text)
    assert client.post(invites_b, data={"emails": "a@example.org b@example.org c@example.org",
                                        "role": "member"}).status_code == 302


def test_refused_invitations_do_not_count(world, client, api_token):
    manager = api_token(world.manager)
    api = f"{API}/clusters/{world.cluster_a.slug}/invites"
    for _ in range(3):
        assert client.post(api, json={"email": world.member.email}, headers=manager).status_code == 409  # a member
        assert client.post(api, json={"email": "kaputt"}, headers=manager).status_code == 400
    statuses = [client.post(api, json={"email": f"n{i}@example.org"}, headers=manager).status_code for i in range(4)]
    assert statuses == [201] * 3 + [429]


# -- password resets ------------------------------------------------------------------------------

def _reset(client, login: str):
    return client.post("/passwort-vergessen", data={"login": login})


def _normalised(page: str) -> str:
    """Numbers (times) and the CSRF tokens (one per browser session) left out."""
    page = re.sub(r'"[\w-]{20,}\.[\w-]+\.[\w-]{20,}"', '""', page)   # signed tokens: payload.time.signature
    return re.sub(r"\d+", "N", page)


def test_reset_is_limited_per_address_and_answers_alike_for_unknown_ones(app, world, client, smtp_server):
    known, unknown = world.member.email, "niemand@example.org"
    answers = {}
    for login in (known, unknown):
        browser = app.test_client()  # one fresh session each, so the pages can be compared
        answers[login] = [_reset(browser, login) for _ in range(4)]
    assert [r.status_code for r in answers[known]] == [r.status_code for r in answers[unknown]] == [302] * 3 + [429]
    assert {r.headers["Location"] for r in answers[known][:3] + answers[unknown][:3]} == {"/login"}
    assert len(smtp_server.messages) == 3
    text = "schon mehrmals ein neues Passwort angefordert"
    refused_known = assert_page_429(answers[known][3], text)
    refused_unknown = assert_page_429(answers[unknown][3], text)
    assert _normalised(refused_known) == _normalised(refused_unknown)
    # another spelling of the same address is the same address
    assert_page_429(_reset(client, f"  {known.upper()} "), text)
    assert len(smtp_server.messages) == 3
    # another address is not affected
    assert _reset(client, world.manager.email).status_code == 302
    assert len(smtp_server.messages) == 4


def test_empty_reset_requests_do_not_count_for_any_address(world, client, smtp_server):
    for _ in range(5):
        assert _reset(client, "   ").status_code == 200  # the form again, with its message
    assert [_reset(client, world.member.username).status_code for _ in range(4)] == [302] * 3 + [429]
    assert len(smtp_server.messages) == 3


def test_reset_is_limited_per_ip_address(app, world, client):
    app.config["LIMIT_PASSWORD_RESET"] = "5 per minute"
    assert [_reset(client, f"person{i}@example.org").status_code for i in range(5)] == [302] * 5
    assert_page_429(_reset(client, "person9@example.org"), "sehr viele neue Passwörter angefordert")


# -- the limits that existed before speak German too ----------------------------------------------

def test_login_limit_answers_in_german(world, client):
    # Signed-in callers are sent on without a password check, so only the route's limit counts here.
    credentials = {"login": world.member.username, "password": factories.PASSWORD}
    assert [client.post("/login", data=credentials).status_code for _ in range(20)] == [302] * 20
    page = assert_page_429(client.post("/login", data=credentials), "Zu viele Anfragen")
    assert 'lang="de"' in page


def test_token_limit_answers_in_german_json(world, client):
    credentials = {"username": world.member.username, "password": factories.PASSWORD}
    assert [client.post(f"{API}/tokens", json=credentials).status_code for _ in range(10)] == [201] * 10
    assert_api_429(client.post(f"{API}/tokens", json=credentials), "Zu viele Anfragen")


def test_a_views_own_429_keeps_its_retry_after(app, world, client):
    """The log-in throttle (services.login_throttle) answers 429 itself; its wait stands."""
    app.config.update(LOGIN_THROTTLE_ACCOUNT="2 per hour")
    wrong = {"login": world.member.username, "password": "falsch-falsch"}
    assert [client.post("/login", data=wrong).status_code for _ in range(2)] == [200, 200]
    throttled = client.post("/login", data=wrong)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 60  # the hour of the throttle, not the route's minute

"""Failed log-ins are throttled per log-in name and per IP address, on the web and for API
tokens, with answers that never tell whether an account exists."""
from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from types import SimpleNamespace

import pyotp
import pytest

from forum.extensions import limiter
from forum.services import twofactor
from tests import factories

PREFIX = "/api/v1"
WRONG = "falsch-falsch-1"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def people(app):
    """Just the accounts these tests need (lighter than conftest's two-cluster world)."""
    return SimpleNamespace(member=factories.user("mia.member", display_name="Mia Member"),
                           manager=factories.user("max.manager"), admin=factories.user("ada.admin", admin=True))


def _redis_reachable() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture(params=["memory"])
def throttled(request, app):
    """Rate limiting switched on for this test's app (the suite's app has it off), with empty
    counters: a fresh memory storage, or Redis under a key prefix of this test's own."""
    app.config["RATELIMIT_ENABLED"] = True
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    app.config["RATELIMIT_KEY_PREFIX"] = prefix
    if request.param == "redis":
        if not _redis_reachable():
            if os.environ.get("CI") == "true":
                pytest.fail("Redis auf 127.0.0.1:6379 ist nicht erreichbar")
            pytest.skip("Redis auf 127.0.0.1:6379 ist nicht erreichbar")
        app.config["RATELIMIT_STORAGE_URI"] = REDIS_URL
    limiter.init_app(app)
    if request.param == "memory":
        limiter.reset()
    yield app
    if request.param == "redis":
        import redis

        connection = redis.Redis.from_url(REDIS_URL)
        for key in connection.scan_iter(f"*{prefix}*"):
            connection.delete(key)
        connection.close()


def _attempt(client, name, password=WRONG, ip="127.0.0.1"):
    return client.post("/login", data={"login": name, "password": password}, environ_base={"REMOTE_ADDR": ip})


@pytest.mark.parametrize("throttled", ["memory", "redis"], indirect=True)
def test_existing_and_unknown_names_are_throttled_alike(people, client, throttled):
    answers = {}
    for name in (people.member.username, "niemand.hier"):
        for _ in range(5):
            response = _attempt(client, name)
            assert response.status_code == 200
            assert "Benutzername oder Passwort stimmen nicht" in response.get_data(as_text=True)
        sixth = _attempt(client, name)
        assert sixth.status_code == 429 and int(sixth.headers["Retry-After"]) >= 1
        # the CSRF token is signed with the time: the two answers may fall into different seconds
        answers[name] = re.sub(r'"[\w-]{20,}\.[\w-]+\.[\w-]{20,}"', '"TOKEN"',
                               sixth.get_data(as_text=True).replace(name, "NAME"))
    known, unknown = answers.values()
    assert known == unknown
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in known and '<html lang="de">' in known
    # refused even with the right password, and the form is still there
    right = _attempt(client, people.member.username, factories.PASSWORD)
    assert right.status_code == 429 and 'name="password"' in right.get_data(as_text=True)
    assert client.get("/konto").status_code == 302  # not signed in
    # other names are not affected, nor is the same account under its e-mail address
    assert _attempt(client, people.manager.username, factories.PASSWORD).status_code == 302


def test_spellings_of_one_name_count_together(people, client, throttled):
    name = people.member.username
    for spelling in (name.upper(), f" {name}", f"{name.title()} ", name, f"  {name.upper()}"):
        assert _attempt(client, spelling).status_code == 200
    assert _attempt(client, name.capitalize(), factories.PASSWORD).status_code == 429


def test_successful_log_in_clears_the_account_counter(people, client, throttled):
    for _ in range(4):
        _attempt(client, people.member.username)
    assert _attempt(client, people.member.username, factories.PASSWORD).status_code == 302
    client.post("/logout")
    for _ in range(4):
        assert _attempt(client, people.member.username).status_code == 200
    assert _attempt(client, people.member.username, factories.PASSWORD).status_code == 302


def test_failures_per_ip_address_are_throttled_too(people, app, client, throttled):
    app.config["LOGIN_THROTTLE_IP"] = "8 per 15 minutes"
    for n in range(8):
        assert _attempt(client, f"rate{n}", ip="127.0.0.2").status_code == 200
    refused = _attempt(client, people.member.username, factories.PASSWORD, ip="127.0.0.2")
    assert refused.status_code == 429 and "Zu viele fehlgeschlagene Anmeldeversuche" in refused.get_data(as_text=True)
    other = app.test_client()
    assert _attempt(other, people.member.username, factories.PASSWORD, ip="127.0.0.3").status_code == 302


def test_wrong_second_factor_codes_count_as_failures(people, client, throttled, monkeypatch):
    now = dt.datetime(2026, 11, 25, 12, 0, 5, tzinfo=dt.UTC)
    monkeypatch.setattr(twofactor, "_now", lambda: now)
    secret = twofactor.new_secret()
    twofactor.enable(people.member, secret, pyotp.TOTP(secret).at(now))
    right = pyotp.TOTP(secret).at(now + dt.timedelta(seconds=30))
    wrong = "123456" if right != "123456" else "654321"
    assert _attempt(client, people.member.username, factories.PASSWORD).status_code == 302
    for _ in range(5):
        client.post("/login/bestaetigen", data={"code": wrong})
    response = _attempt(client, people.member.username, factories.PASSWORD)
    assert response.status_code == 429
    assert client.get("/konto").status_code == 302


def test_the_code_step_is_refused_once_the_name_is_throttled(people, client, throttled, monkeypatch):
    now = dt.datetime(2026, 11, 25, 12, 0, 5, tzinfo=dt.UTC)
    monkeypatch.setattr(twofactor, "_now", lambda: now)
    secret = twofactor.new_secret()
    twofactor.enable(people.member, secret, pyotp.TOTP(secret).at(now))
    right = pyotp.TOTP(secret).at(now + dt.timedelta(seconds=30))
    wrong = "123456" if right != "123456" else "654321"
    assert _attempt(client, people.member.username).status_code == 200  # one wrong password
    assert _attempt(client, people.member.username, factories.PASSWORD).status_code == 302
    for _ in range(4):
        assert client.post("/login/bestaetigen", data={"code": wrong}).status_code == 200
    response = client.post("/login/bestaetigen", data={"code": right})  # even the right code, now
    assert response.status_code == 429 and "Zu viele fehlgeschlagene Anmeldeversuche" in response.get_data(as_text=True)
    assert client.get("/konto").status_code == 302
    assert client.get("/login/bestaetigen").headers["Location"].endswith("/login")  # start again


def test_nothing_is_counted_with_rate_limiting_off(people, client):
    for _ in range(7):
        assert _attempt(client, people.member.username).status_code == 200
    assert _attempt(client, people.member.username, factories.PASSWORD).status_code == 302


# -- API tokens ----------------------------------------------------------------------------------

def _token(client, name, password=WRONG, ip="127.0.0.1"):
    return client.post(f"{PREFIX}/tokens", json={"username": name, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def test_api_tokens_are_throttled_per_name_alike(people, client, throttled):
    answers = []
    for name, ip in ((people.member.username, "127.0.0.4"), ("niemand.hier", "127.0.0.5")):
        for _ in range(5):
            assert _token(client, name, ip=ip).get_json()["error"]["code"] == "unauthorized"
        sixth = _token(client, name, ip=ip)
        assert sixth.status_code == 429 and int(sixth.headers["Retry-After"]) >= 1
        answers.append(sixth.get_json())
    assert answers[0] == answers[1] and answers[0]["error"]["code"] == "rate_limited"
    assert _token(client, people.member.username, factories.PASSWORD, ip="127.0.0.6").status_code == 429
    assert _token(client, people.manager.username, factories.PASSWORD, ip="127.0.0.6").status_code == 201


def test_web_and_api_failures_share_the_counter(people, client, throttled):
    for _ in range(3):
        _attempt(client, people.member.username)
    for _ in range(2):
        _token(client, people.member.username)
    assert _token(client, people.member.username, factories.PASSWORD).status_code == 429
    assert _attempt(client, people.member.username, factories.PASSWORD).status_code == 429

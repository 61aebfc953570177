"""Two-factor log-in: set-up with QR code, the code step at log-in, replays, recovery codes,
switching off, admins who must have it, and API tokens with ``otp``."""
from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pyotp
import pytest

from forum.extensions import db
from forum.models import RecoveryCode, User
from forum.services import twofactor
from tests import factories
from tests.test_openapi import SpecCheckingClient

PREFIX = "/api/v1"
START = dt.datetime(2026, 11, 25, 12, 0, 5, tzinfo=dt.UTC)  # 5 s into a 30-s step


@pytest.fixture
def people(app):
    """Just the accounts these tests need (lighter than conftest's two-cluster world)."""
    return SimpleNamespace(member=factories.user("mia.member", display_name="Mia Member"),
                           manager=factories.user("max.manager"), admin=factories.user("ada.admin", admin=True))


class Clock:
    """The time the service sees; tests move it by whole steps, never by the wall clock."""

    def __init__(self):
        self.now = START

    def advance(self, seconds: int = 30) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(twofactor, "_now", lambda: c.now)
    return c


@pytest.fixture(autouse=True)
def spec_checked(app):
    """API answers in this module are checked against the OpenAPI document."""
    app.test_client_class = SpecCheckingClient


def code_at(secret: str, when: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def enable_for(user: User, clock: Clock) -> tuple[str, list[str]]:
    """Two-factor log-in switched on through the service; returns the secret and the codes."""
    secret = twofactor.new_secret()
    codes = twofactor.enable(user, secret, code_at(secret, clock.now))
    return secret, codes


def sign_in_with_password(client, user, remember=False):
    data = {"login": user.username, "password": factories.PASSWORD}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


def signed_in(client) -> bool:
    return client.get("/konto").status_code == 200


# -- set-up --------------------------------------------------------------------------------------

def test_set_up_with_qr_code_confirmation_and_recovery_codes(people, login, client, app, clock):
    login(people.member)
    other_device = app.test_client()
    assert sign_in_with_password(other_device, people.member).status_code == 302

    page = client.get("/konto/zwei-faktor").get_data(as_text=True)
    assert "Zwei-Faktor-Anmeldung" in page and "Ausgeschaltet." in page
    setup = client.get("/konto/zwei-faktor/einrichten")
    html = setup.get_data(as_text=True)
    assert setup.status_code == 200 and 'src="/konto/zwei-faktor/qr.svg"' in html and "<script>" not in html
    grouped = re.search(r'<code class="totp-secret"[^>]*>([A-Z2-7 ]+)</code>', html).group(1)
    assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{4}", grouped)
    secret = grouped.replace(" ", "")
    assert 'for="code"' in html and 'id="code"' in html and 'autocomplete="one-time-code"' in html

    qr = client.get("/konto/zwei-faktor/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert b"<svg" in qr.data and b"<script" not in qr.data and b"style=" not in qr.data
    assert client.get("/konto/zwei-faktor/einrichten").get_data(as_text=True).count(grouped) == 1  # same secret

    wrong = client.post("/konto/zwei-faktor/einrichten",
                        data={"code": "000000" if code_at(secret, clock.now) != "000000" else "111111"})
    assert "Der Code stimmt nicht." in wrong.get_data(as_text=True)
    assert not db.session.get(User, people.member.id).two_factor_enabled

    token_before = db.session.get(User, people.member.id).session_token
    done = client.post("/konto/zwei-faktor/einrichten", data={"code": code_at(secret, clock.now)})
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "Die Zwei-Faktor-Anmeldung ist eingeschaltet." in html
    shown = re.findall(r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>", html)
    assert len(shown) == 10 and len(set(shown)) == 10
    user = db.session.get(User, people.member.id)
    assert user.two_factor_enabled and user.totp_secret == secret and user.session_token != token_before
    assert db.session.query(RecoveryCode).filter_by(user_id=user.id).count() == 10
    assert all(c.code_hash not in shown for c in db.session.query(RecoveryCode))  # only digests are kept

    # this session goes on, the other device is signed out; the codes are not shown again
    page = client.get("/konto/zwei-faktor").get_data(as_text=True)
    assert "Eingeschaltet" in page and "10 von 10" in page and shown[0] not in page
    assert not signed_in(other_device)
    assert client.get("/konto/zwei-faktor/qr.svg").status_code == 404
    assert client.get("/konto/zwei-faktor/einrichten").status_code == 302


def test_profile_settings_link_to_two_factor_page(people, login, client):
    login(people.member)
    assert 'href="/konto/zwei-faktor"' in client.get("/konto").get_data(as_text=True)
    assert 'href="/konto/zwei-faktor"' in client.get(f"/u/{people.member.username}").get_data(as_text=True)


# -- log-in --------------------------------------------------------------------------------------

def test_log_in_asks_for_the_code_and_refuses_a_replay(people, client, clock):
    secret, _codes = enable_for(people.member, clock)
    enabled_with = code_at(secret, clock.now)

    response = sign_in_with_password(client, people.member)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/bestaetigen")
    assert not signed_in(client)  # password alone does not sign in
    page = client.get("/login/bestaetigen").get_data(as_text=True)
    assert "Bestätigungscode" in page and 'for="code"' in page

    replay = client.post("/login/bestaetigen", data={"code": enabled_with})  # the code used to switch it on
    assert replay.status_code == 200 and "Der Code stimmt nicht." in replay.get_data(as_text=True)
    assert not signed_in(client)

    clock.advance()
    fresh = code_at(secret, clock.now)
    response = client.post("/login/bestaetigen", data={"code": fresh[:3] + " " + fresh[3:]})
    assert response.status_code == 302 and signed_in(client)

    client.post("/logout")
    sign_in_with_password(client, people.member)
    again = client.post("/login/bestaetigen", data={"code": fresh})  # same code, same 30 seconds
    assert "Der Code stimmt nicht." in again.get_data(as_text=True) and not signed_in(client)


def test_codes_from_the_neighbouring_steps_are_accepted_older_ones_not(people, client, clock):
    secret, _codes = enable_for(people.member, clock)
    clock.advance(300)
    sign_in_with_password(client, people.member)
    too_old = client.post("/login/bestaetigen", data={"code": code_at(secret, clock.now - dt.timedelta(seconds=60))})
    assert "Der Code stimmt nicht." in too_old.get_data(as_text=True)
    late = client.post("/login/bestaetigen", data={"code": code_at(secret, clock.now - dt.timedelta(seconds=30))})
    assert late.status_code == 302 and signed_in(client)


def test_recovery_code_works_once(people, client, clock):
    _secret, codes = enable_for(people.member, clock)
    sign_in_with_password(client, people.member)
    response = client.post("/login/bestaetigen", data={"code": codes[3].upper()}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Wiederherstellungscode" in html and "Übrig: 9." in html and signed_in(client)
    client.post("/logout")

    sign_in_with_password(client, people.member)
    response = client.post("/login/bestaetigen", data={"code": codes[3]})
    assert "Der Code stimmt nicht." in response.get_data(as_text=True) and not signed_in(client)
    assert client.post("/login/bestaetigen", data={"code": codes[4]}).status_code == 302


def test_five_wrong_codes_send_back_to_the_log_in(people, client, clock):
    secret, _codes = enable_for(people.member, clock)
    right = code_at(secret, clock.now + dt.timedelta(seconds=30))
    wrong = "123456" if right != "123456" else "654321"
    sign_in_with_password(client, people.member)
    for _ in range(4):
        assert client.post("/login/bestaetigen", data={"code": wrong}).status_code == 200
    response = client.post("/login/bestaetigen", data={"code": wrong}, follow_redirects=True)
    assert "Zu viele falsche Codes." in response.get_data(as_text=True)
    assert response.request.path == "/login"
    response = client.post("/login/bestaetigen", data={"code": right})  # the right code is too late now
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert not signed_in(client)


def test_the_code_step_expires_after_ten_minutes(people, client, clock):
    secret, _codes = enable_for(people.member, clock)
    sign_in_with_password(client, people.member)
    with client.session_transaction() as session:
        session["login_pending"] = {**session["login_pending"], "at": session["login_pending"]["at"] - 601}
    clock.advance()
    response = client.post("/login/bestaetigen", data={"code": code_at(secret, clock.now)}, follow_redirects=True)
    assert "Die Anmeldung hat zu lange gedauert." in response.get_data(as_text=True)
    assert not signed_in(client)


def test_remember_me_and_next_target_survive_the_code_step(people, client, clock):
    secret, _codes = enable_for(people.member, clock)
    client.post("/login?next=/konto/zwei-faktor",
                data={"login": people.member.username, "password": factories.PASSWORD, "remember": "y"})
    assert client.get_cookie("remember_token", domain="forum.test") is None
    clock.advance()
    response = client.post("/login/bestaetigen", data={"code": code_at(secret, clock.now)})
    assert response.headers["Location"].endswith("/konto/zwei-faktor")
    assert client.get_cookie("remember_token", domain="forum.test") is not None


# -- recovery codes and switching off ------------------------------------------------------------

def test_new_recovery_codes_need_the_password_and_replace_the_old(people, login, client, clock):
    _secret, old = enable_for(people.member, clock)
    client.post("/login", data={"login": people.member.username, "password": factories.PASSWORD})
    client.post("/login/bestaetigen", data={"code": old[0]})
    assert signed_in(client)

    refused = client.post("/konto/zwei-faktor/wiederherstellungscodes", data={"password": "falsch-falsch"})
    assert refused.status_code == 400 and "Das Passwort stimmt nicht." in refused.get_data(as_text=True)
    response = client.post("/konto/zwei-faktor/wiederherstellungscodes", data={"password": factories.PASSWORD})
    new = re.findall(r"<li><code>([a-z2-9-]{14})</code></li>", response.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    user = db.session.get(User, people.member.id)
    assert twofactor.verify(user, old[1]) is None
    assert twofactor.verify(user, new[0]) == "recovery"


def test_switching_off_needs_password_and_code(people, client, clock):
    secret, codes = enable_for(people.member, clock)
    client.post("/login", data={"login": people.member.username, "password": factories.PASSWORD})
    client.post("/login/bestaetigen", data={"code": codes[0]})
    clock.advance()
    current = code_at(secret, clock.now)

    page = client.get("/konto/zwei-faktor/ausschalten").get_data(as_text=True)
    assert 'for="password"' in page and 'for="code"' in page
    response = client.post("/konto/zwei-faktor/ausschalten", data={"password": "falsch-falsch", "code": current})
    assert "Das Passwort stimmt nicht." in response.get_data(as_text=True)
    response = client.post("/konto/zwei-faktor/ausschalten", data={"password": factories.PASSWORD, "code": "000-000"})
    assert "Der Code stimmt nicht." in response.get_data(as_text=True)
    assert db.session.get(User, people.member.id).two_factor_enabled

    token = db.session.get(User, people.member.id).session_token
    response = client.post("/konto/zwei-faktor/ausschalten", data={"password": factories.PASSWORD, "code": current},
                           follow_redirects=True)
    assert "Die Zwei-Faktor-Anmeldung ist ausgeschaltet." in response.get_data(as_text=True)
    user = db.session.get(User, people.member.id)
    assert not user.two_factor_enabled and user.totp_secret is None and user.session_token == token
    assert db.session.query(RecoveryCode).filter_by(user_id=user.id).count() == 0
    client.post("/logout")
    assert sign_in_with_password(client, people.member).headers["Location"].endswith("/")


# -- platform admins -----------------------------------------------------------------------------

@pytest.fixture
def admins_must(app):
    app.config["TWO_FACTOR_REQUIRED_FOR_ADMINS"] = True


def test_admin_without_two_factor_is_sent_to_the_set_up(people, login, client, admins_must, clock):
    login(people.admin)
    for url in ("/", "/admin/konten", "/konto", "/konto/zwei-faktor", f"/u/{people.admin.username}"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].endswith("/konto/zwei-faktor/einrichten"), url
    assert client.post("/admin/bretter/1/hoch").headers["Location"].endswith("/konto/zwei-faktor/einrichten")
    page = client.get("/konto/zwei-faktor/einrichten").get_data(as_text=True)
    assert "Als Plattform-Admin brauchen Sie die Zwei-Faktor-Anmeldung" in page
    assert client.get("/konto/zwei-faktor/qr.svg").status_code == 200
    assert client.get("/static/css/forum.css").status_code == 200
    session_api = client.get(f"{PREFIX}/me")
    assert session_api.status_code == 401 and session_api.get_json()["error"]["code"] == "two_factor_required"

    secret = re.search(r'class="totp-secret"[^>]*>([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    client.post("/konto/zwei-faktor/einrichten", data={"code": code_at(secret, clock.now)})
    assert client.get("/admin/konten").status_code == 200
    assert client.post("/logout").status_code == 302


def test_members_are_not_forced(people, login, client, admins_must):
    login(people.member)
    assert client.get("/").status_code == 200


def test_admin_logout_works_before_set_up(people, login, client, admins_must):
    login(people.admin)
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 200  # anonymous again: the landing page


# -- API tokens ----------------------------------------------------------------------------------

def _token(client, user, **extra):
    return client.post(f"{PREFIX}/tokens", json={"username": user.username, "password": factories.PASSWORD, **extra})


def test_api_token_needs_the_code_when_two_factor_is_on(people, client, clock):
    secret, codes = enable_for(people.member, clock)
    missing = _token(client, people.member)
    assert missing.status_code == 401 and missing.get_json()["error"]["code"] == "otp_required"
    assert _token(client, people.member, otp=None).get_json()["error"]["code"] == "otp_required"
    wrong = _token(client, people.member, otp="000000" if code_at(secret, clock.now) != "000000" else "111111")
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "invalid_otp"
    replay = _token(client, people.member, otp=code_at(secret, clock.now))  # used to switch it on
    assert replay.get_json()["error"]["code"] == "invalid_otp"

    clock.advance()
    issued = _token(client, people.member, otp=code_at(secret, clock.now))
    assert issued.status_code == 201
    me = client.get(f"{PREFIX}/me", headers={"Authorization": f"Bearer {issued.get_json()['token']}"})
    assert me.get_json()["username"] == people.member.username
    assert _token(client, people.member, otp=code_at(secret, clock.now)).status_code == 401  # replay
    assert _token(client, people.member, otp=codes[0]).status_code == 201
    assert _token(client, people.member, otp=codes[0]).get_json()["error"]["code"] == "invalid_otp"
    assert _token(client, people.member, otp="x" * 200).status_code == 401
    bad_type = _token(client, people.member, otp=123456)
    assert bad_type.status_code == 400


def test_wrong_password_says_nothing_about_two_factor(people, client, clock):
    enable_for(people.member, clock)
    response = client.post(f"{PREFIX}/tokens", json={"username": people.member.username, "password": "falsch-falsch"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


def test_api_token_without_two_factor_ignores_otp(people, client):
    assert _token(client, people.member, otp="123456").status_code == 201


def test_admin_without_two_factor_gets_no_api_token(people, client, admins_must, clock):
    refused = _token(client, people.admin)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "two_factor_required"
    secret, _codes = enable_for(people.admin, clock)
    clock.advance()
    assert _token(client, people.admin, otp=code_at(secret, clock.now)).status_code == 201


def test_qr_code_is_the_provisioning_uri(app):
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    uri = twofactor.provisioning_uri(factories.user("mia.qr"), secret)
    assert uri.startswith("otpauth://totp/Clusterforum:") and f"secret={secret}" in uri and "issuer=Clusterforum" in uri
    svg = twofactor.qr_svg(uri)
    assert svg.startswith(b"<?xml") and b"<svg" in svg

"""API tokens end (issue 15, points 2 and 3): after their lifetime, on "DELETE /tokens/current",
"widerrufen" on the account page, and with every event that ends an account's sessions or
changes what it may do — a new password (web, reset link, ``forum set-password``), log-out on
all devices, a suspension (and lifting it brings nothing back), two-factor log-in switched on or
off, a change of cluster role or of the admin flag. An admin's token without a completed second
factor works nowhere."""
from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from flask import session
from flask_wtf.csrf import generate_csrf

from forum.models import ApiToken, User, utcnow
from forum.services import accounts, members, platform, twofactor
from tests import factories

ME = "/api/v1/me"


def _issue(client, user, **extra) -> dict:
    response = client.post("/api/v1/tokens", json={"username": user.username, "password": factories.PASSWORD, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _bearer(answer: dict) -> dict:
    return {"Authorization": f"Bearer {answer['token']}"}


def _works(client, headers) -> bool:
    status = client.get(ME, headers=headers).status_code
    assert status in (200, 401)
    return status == 200


# -- point 2: lifetime, log-out, revocation -------------------------------------------------------

def test_a_token_expires_after_the_configured_days(app, world, client, db):
    app.config["API_TOKEN_DAYS"] = 7
    answer = _issue(client, world.member, name="Werkstatt-Tablet")
    issued = dt.datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00")).replace(tzinfo=None)
    assert dt.timedelta(days=6, hours=23) < issued - utcnow() <= dt.timedelta(days=7)
    assert answer["name"] == "Werkstatt-Tablet" and answer["current"] is True
    assert _works(client, _bearer(answer))
    token = db.session.get(ApiToken, answer["id"])
    token.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    assert not _works(client, _bearer(answer))


def test_the_default_lifetime_is_90_days(world, client):
    answer = _issue(client, world.member)
    expires = dt.datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00")).replace(tzinfo=None)
    assert dt.timedelta(days=89, hours=23) < expires - utcnow() <= dt.timedelta(days=90)


def test_delete_current_ends_only_that_token(world, client):
    first, second = _issue(client, world.member), _issue(client, world.member)
    listed = client.get("/api/v1/tokens", headers=_bearer(first)).get_json()["items"]
    assert {t["id"] for t in listed} == {first["id"], second["id"]}
    assert [t["current"] for t in listed if t["id"] == first["id"]] == [True]
    assert client.delete("/api/v1/tokens/current", headers=_bearer(first)).status_code == 204
    assert not _works(client, _bearer(first))
    assert _works(client, _bearer(second))


def test_delete_current_needs_a_token_not_a_session(app, world, client, login):
    login(world.member)
    with app.test_request_context():
        token = generate_csrf()
        raw = session["csrf_token"]
    with client.session_transaction() as stored:
        stored["csrf_token"] = raw
    response = client.delete("/api/v1/tokens/current", headers={"X-CSRFToken": token})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation"


def test_nobody_ends_another_accounts_token(world, client):
    mine, theirs = _issue(client, world.member), _issue(client, world.outsider)
    assert client.delete(f"/api/v1/tokens/{theirs['id']}", headers=_bearer(mine)).status_code == 404
    assert _works(client, _bearer(theirs))


def test_account_page_lists_tokens_and_revokes_them(world, client, login):
    answer = _issue(client, world.member, name="Büro-PC")
    other = _issue(client, world.outsider, name="Fremdes Gerät")
    login(world.member)
    html = client.get("/konto/zugangstokens").get_data(as_text=True)
    assert "Büro-PC" in html and "Widerrufen" in html and "Fremdes Gerät" not in html
    assert "Zugangstokens" in client.get("/konto").get_data(as_text=True)
    assert client.post(f"/konto/zugangstokens/{other['id']}/widerrufen").status_code == 404
    response = client.post(f"/konto/zugangstokens/{answer['id']}/widerrufen", follow_redirects=True)
    assert "ist widerrufen" in response.get_data(as_text=True)
    assert not _works(client, _bearer(answer))
    assert _works(client, _bearer(other))
    assert "kein gültiges Zugangstoken" in client.get("/konto/zugangstokens").get_data(as_text=True)


# -- point 2: every event that ends the sessions ends the tokens ----------------------------------

def _change_password_on_the_web(world, client, login):
    login(world.member)
    client.post("/konto/passwort", data={"current_password": factories.PASSWORD, "password": "ein-neues-passwort",
                                         "confirm": "ein-neues-passwort"})


def _reset_password(world, client, login):
    token = accounts.make_reset_token(world.member)
    client.post(f"/passwort-neu/{token}", data={"password": "ein-neues-passwort", "confirm": "ein-neues-passwort"})


def _log_out_everywhere(world, client, login):
    login(world.member)
    client.post("/logout")


def _cli_set_password(world, client, login, runner=None):
    from flask import current_app
    result = current_app.test_cli_runner().invoke(args=["forum", "set-password", world.member.username,
                                                        "--password", "ein-neues-passwort"])
    assert result.exit_code == 0, result.output


def _suspend_and_lift(world, client, login):
    platform.suspend_account(world.admin, world.member, "Spam")
    platform.lift_account_suspension(world.admin, world.member)


def _two_factor_on(world, client, login):
    secret = twofactor.new_secret()
    twofactor.enable(world.member, secret, pyotp.TOTP(secret).now())


def _role_change(world, client, login):
    members.change_role(world.manager, world.cluster_a, world.member.id, "manager")


@pytest.mark.parametrize("event", [_change_password_on_the_web, _reset_password, _log_out_everywhere, _cli_set_password,
                                   _suspend_and_lift, _two_factor_on, _role_change])
def test_the_event_ends_every_token_of_the_account(world, client, login, event):
    first, second = _bearer(_issue(client, world.member)), _bearer(_issue(client, world.member))
    bystander = _bearer(_issue(client, world.outsider))
    event(world, client, login)
    assert not _works(client, first) and not _works(client, second)
    assert _works(client, bystander)


def test_two_factor_off_ends_the_tokens_issued_with_it(world, client, db):
    secret = twofactor.new_secret()
    codes = twofactor.enable(world.member, secret, pyotp.TOTP(secret).now())
    headers = _bearer(_issue(client, world.member, otp=codes[0]))
    assert _works(client, headers)
    twofactor.disable(world.member, factories.PASSWORD, codes[1])
    assert not _works(client, headers)


def test_a_suspended_accounts_old_token_stays_dead_after_the_suspension_is_lifted(world, client):
    headers = _bearer(_issue(client, world.member))
    platform.suspend_account(world.admin, world.member, "Spam")
    assert not _works(client, headers)
    platform.lift_account_suspension(world.admin, world.member)
    assert not _works(client, headers)
    assert _works(client, _bearer(_issue(client, world.member)))


# -- point 3: promotion, and admins without a second factor ---------------------------------------

def test_promotion_to_admin_ends_the_members_tokens(app, world, client):
    """A member's token, after an admin sets ``is_admin``, must not act as an admin (that token
    could invite itself as manager into any cluster and read it)."""
    headers = _bearer(_issue(client, world.member))
    platform.update_account(world.admin, world.member, {
        "email": world.member.email, "display_name": world.member.display_name, "company": "", "trade": "",
        "region": "", "is_admin": True})
    assert not _works(client, headers)
    invite = client.post(f"/api/v1/clusters/{world.cluster_b.slug}/invites", headers=headers,
                         json={"email": world.member.email, "role": "manager"})
    assert invite.status_code == 401


def test_an_admins_token_without_two_factor_is_refused_on_every_route(app, world, client, db):
    """Issued while the requirement was off (or before the account became admin by other means,
    e.g. directly in the database): once two-factor log-in is required, it works nowhere."""
    headers = _bearer(_issue(client, world.admin))
    assert _works(client, headers)
    app.config["TWO_FACTOR_REQUIRED_FOR_ADMINS"] = True
    for method, path, body in [("GET", ME, None), ("GET", "/api/v1/clusters", None),
                               ("GET", "/api/v1/tokens", None),
                               ("POST", f"/api/v1/clusters/{world.cluster_a.slug}/invites",
                                {"email": "x@example.org", "role": "manager"}),
                               ("GET", f"/api/v1/clusters/{world.cluster_a.slug}/members", None)]:
        response = client.open(path, method=method, json=body, headers=headers)
        assert response.status_code == 401, (method, path)


def test_a_member_made_admin_in_the_database_gets_nothing_from_an_old_token(app, world, client, db):
    headers = _bearer(_issue(client, world.member))
    app.config["TWO_FACTOR_REQUIRED_FOR_ADMINS"] = True
    db.session.get(User, world.member.id).is_admin = True   # not through the service: the check still holds
    db.session.commit()
    assert not _works(client, headers)


def test_an_admin_with_two_factor_gets_a_working_token(app, world, client, db):
    app.config["TWO_FACTOR_REQUIRED_FOR_ADMINS"] = True
    secret = twofactor.new_secret()
    twofactor.enable(world.admin, secret, pyotp.TOTP(secret).now())
    code = twofactor._replace_recovery_codes(world.admin)[0]
    db.session.commit()
    headers = _bearer(_issue(client, world.admin, otp=code))
    assert _works(client, headers)


def test_an_account_keeps_a_bounded_number_of_tokens(world, client, db):
    """Issue 15, point 2: the token list stays bounded — a new token beyond the maximum ends
    the oldest, and expired ones are cleared on the way."""
    from forum.services.accounts import MAX_TOKENS_PER_ACCOUNT

    first = _issue(client, world.member)
    expired = _issue(client, world.member)
    db.session.get(ApiToken, expired["id"]).expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    for _n in range(MAX_TOKENS_PER_ACCOUNT - 1):
        _issue(client, world.member)
    assert _works(client, _bearer(first))
    last = _issue(client, world.member)
    assert not _works(client, _bearer(first)) and _works(client, _bearer(last))
    rows = db.session.query(ApiToken).filter_by(user_id=world.member.id).count()
    assert rows == MAX_TOKENS_PER_ACCOUNT

"""Invitations: a manager invites by e-mail (real SMTP), the invitee registers or joins
through the signed, single-use link; resend, revoke, expiry, and the JSON API."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from forum.models import Invitation, Membership, ModerationLogEntry, User, utcnow
from forum.services import membership
from tests import membership_factories
from tests.test_openapi import PREFIX, spec_checked_client  # noqa: F401  (autouse fixture)

LINK = re.compile(r"https?://[^/\s]+(/einladung/\S+)")


def _link(message) -> str:
    match = LINK.search(message.get_body(("plain",)).get_content())
    assert match, "kein Einladungslink in der E-Mail"
    return match.group(1)


def _register(client, path, username="neu.betrieb", **extra):
    data = {"username": username, "display_name": "Nora Neu", "company": "Dachdeckerei Neu", "trade": "Dachdecker",
            "region": "Münsterland", "password": "ganz-geheim-123", "confirm": "ganz-geheim-123", **extra}
    return client.post(path, data=data)


def test_manager_invites_several_addresses_and_the_invitee_registers_through_the_mail(
        client, world, login, smtp_server, db):
    login(world.manager)
    page = client.post(f"/c/{world.cluster_a.slug}/verwaltung/einladungen",
                       data={"emails": "nora@example.org\nkarl@example.org, mia.member@example.org", "role": "member"},
                       follow_redirects=True)
    assert "2 Einladung(en) verschickt" in page.get_data(as_text=True)
    assert sorted(m["To"] for m in smtp_server.messages) == ["karl@example.org", "nora@example.org"]
    message = next(m for m in smtp_server.messages if m["To"] == "nora@example.org")
    assert message["Subject"] == "Einladung in den Cluster „Cluster Münsterland“"
    text = message.get_body(("plain",)).get_content()
    assert "14 Tage" in text and "nur einmal" in text
    client.post("/logout")

    path = _link(message)
    form = client.get(path)
    assert form.status_code == 200 and "nora@example.org" in form.get_data(as_text=True)
    response = _register(client, path)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/c/{world.cluster_a.slug}")
    assert client.get(f"/c/{world.cluster_a.slug}").status_code == 200  # signed in and a member
    user = db.session.query(User).filter_by(username="neu.betrieb").one()
    assert (user.email, user.company, user.trade, user.region) == ("nora@example.org", "Dachdeckerei Neu", "Dachdecker",
                                                                  "Münsterland")
    assert [m.cluster_id for m in user.memberships] == [world.cluster_a.id]
    # log-in keeps working for invited accounts
    client.post("/logout")
    assert client.post("/login", data={"login": "neu.betrieb", "password": "ganz-geheim-123"}).status_code == 302
    # the link was single-use
    reused = client.get(path)
    assert reused.status_code == 400 and "schon angenommen" in reused.get_data(as_text=True)
    actions = {e.action for e in db.session.query(ModerationLogEntry)}
    assert {"invite.create", "invite.accept"} <= actions


def test_invitation_list_shows_every_state(client, world, login, db):
    open_one = membership_factories.invitation(world.cluster_a, world.manager, "offen@example.org")
    revoked = membership_factories.invitation(world.cluster_a, world.manager, "zurueck@example.org")
    expired = membership_factories.invitation(world.cluster_a, world.manager, "alt@example.org")
    accepted = membership_factories.invitation(world.cluster_a, world.manager, "lars.loner@example.org")
    membership.revoke(world.manager, world.cluster_a, revoked.id)
    expired.expires_at = utcnow() - dt.timedelta(minutes=1)
    db.session.commit()
    membership.accept(world.loner, membership.token_for(accepted))
    login(world.manager)
    html = client.get(f"/c/{world.cluster_a.slug}/verwaltung/einladungen").get_data(as_text=True)
    for invitation, state in ((open_one, "offen"), (revoked, "widerrufen"), (expired, "abgelaufen"),
                              (accepted, "angenommen")):
        row = html.split(f'id="einladung-{invitation.id}"')[1].split("</tr>")[0]
        assert f'<span class="badge">{state}</span>' in row, state


def test_resend_kills_the_old_link_and_revoke_kills_the_new_one(client, world, login, smtp_server):
    login(world.manager)
    invitation = membership_factories.invitation(world.cluster_a, world.manager, "paul@example.org")
    first = _link(smtp_server.messages[-1])
    response = client.post(f"/c/{world.cluster_a.slug}/verwaltung/einladungen/{invitation.id}/erneut",
                           follow_redirects=True)
    assert "der alte Link gilt nicht mehr" in response.get_data(as_text=True)
    second = _link(smtp_server.messages[-1])
    assert first != second
    client.post("/logout")
    old = client.get(first)
    assert old.status_code == 400 and "neueren Link" in old.get_data(as_text=True)
    assert client.get(second).status_code == 200
    login(world.manager)
    client.post(f"/c/{world.cluster_a.slug}/verwaltung/einladungen/{invitation.id}/widerrufen")
    client.post("/logout")
    revoked = client.get(second)
    assert revoked.status_code == 400 and "zurückgezogen" in revoked.get_data(as_text=True)
    assert _register(client, second).status_code == 400


def test_an_expired_link_is_refused_in_german(client, world, app):
    invitation = membership_factories.invitation(world.cluster_a, world.manager)
    token = membership.token_for(invitation)
    app.config["INVITE_MAX_AGE"] = 1
    import time
    time.sleep(2)
    response = client.get(f"/einladung/{token}")
    assert response.status_code == 400 and "abgelaufen" in response.get_data(as_text=True)


@pytest.mark.parametrize("emails,message", [
    ("keine-adresse", "Keine gültige E-Mail-Adresse: keine-adresse"),
    ("", "mindestens eine E-Mail-Adresse"),
])
def test_invalid_addresses_are_refused_and_nothing_is_sent(client, world, login, db, smtp_server, emails, message):
    login(world.manager)
    response = client.post(f"/c/{world.cluster_a.slug}/verwaltung/einladungen",
                           data={"emails": f"gut@example.org\n{emails}" if emails else "", "role": "member"})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.query(Invitation).count() == 0 and smtp_server.messages == []


def test_registering_with_a_taken_username_or_mismatched_passwords(client, world):
    path = f"/einladung/{membership.token_for(membership_factories.invitation(world.cluster_a, world.manager))}"
    taken = _register(client, path, username=world.member.username)
    assert taken.status_code == 400 and "ist schon vergeben" in taken.get_data(as_text=True)
    mismatch = _register(client, path, confirm="etwas-anderes-9")
    assert mismatch.status_code == 400 and "stimmen nicht überein" in mismatch.get_data(as_text=True)
    assert _register(client, path).status_code == 302


def test_a_signed_in_account_simply_joins_with_the_invited_role(client, world, login, db):
    path = f"/einladung/{membership.token_for(membership_factories.invitation(world.cluster_a, world.manager))}"
    login(world.outsider)
    page = client.get(path)
    assert "Einladung annehmen" in page.get_data(as_text=True)
    assert client.post(path).headers["Location"].endswith(f"/c/{world.cluster_a.slug}")
    assert world.cluster_a.id in db.session.get(User, world.outsider.id).cluster_ids
    # a manager invitation binds to its address (issue 15, point 8): only that account takes it up
    as_manager = membership_factories.invitation(world.cluster_a, world.manager, world.loner.email, role="manager")
    login(world.loner)
    client.post(f"/einladung/{membership.token_for(as_manager)}")
    assert world.cluster_a.id in db.session.get(User, world.loner.id).managed_cluster_ids
    # existing members are not invited again (their role changes on the member page)
    assert membership.invite(world.manager, world.cluster_a, [world.member.email]) == []


def test_managers_of_another_cluster_and_members_cannot_invite(client, world, login, db):
    for user in (world.manager_b, world.member, world.outsider):
        login(user)
        response = client.post(f"/c/{world.cluster_a.slug}/verwaltung/einladungen",
                               data={"emails": "x@example.org", "role": "member"})
        assert response.status_code == 404
    assert db.session.query(Invitation).count() == 0


# -- the JSON API ---------------------------------------------------------------------------------

def test_api_invite_mail_and_accept_as_a_new_account(client, world, api_token, smtp_server, db):
    headers = api_token(world.manager)
    response = client.post(f"{PREFIX}/clusters/{world.cluster_a.slug}/invites",
                           json={"email": "api@example.org", "role": "manager"}, headers=headers)
    assert response.status_code == 201
    url = response.get_json()["invite_url"]
    assert url.split("forum.test")[1] == _link(smtp_server.messages[-1])
    token = url.rsplit("/", 1)[1]
    accepted = client.post(f"{PREFIX}/invites/{token}/accept",
                           json={"username": "api.betrieb", "password": "ganz-geheim-123", "company": "API GmbH"})
    assert accepted.status_code == 200
    assert accepted.get_json()["role"] == "manager" and accepted.get_json()["cluster"]["slug"] == world.cluster_a.slug
    again = client.post(f"{PREFIX}/invites/{token}/accept", json={"username": "zwei", "password": "ganz-geheim-123"})
    assert again.status_code == 400 and again.get_json()["error"]["code"] == "invalid_invitation"
    new_token = client.post(f"{PREFIX}/tokens", json={"username": "api.betrieb", "password": "ganz-geheim-123"})
    assert new_token.status_code == 201


def test_api_accept_as_a_signed_in_user(client, world, api_token, db):
    invitation = membership_factories.invitation(world.cluster_a, world.manager)
    response = client.post(f"{PREFIX}/invites/{membership.token_for(invitation)}/accept", json={},
                           headers=api_token(world.loner))
    assert response.status_code == 200 and response.get_json()["state"] == "active"
    assert db.session.query(Membership).filter_by(user_id=world.loner.id, cluster_id=world.cluster_a.id).count() == 1


@pytest.mark.parametrize("body,code", [
    ({"email": "kaputt", "role": "member"}, 400),
    ({"email": "ok@example.org", "role": "chef"}, 400),
    ({"email": "ok@example.org", "role": None}, 400),  # found by fuzzing: was invited as member
    ({"email": "ok@example.org", "role": ""}, 400),
    ({"role": "member"}, 400),
    ({"email": "mia.member@example.org"}, 409),
])
def test_api_invite_bad_input(client, world, api_token, body, code):
    response = client.post(f"{PREFIX}/clusters/{world.cluster_a.slug}/invites", json=body,
                           headers=api_token(world.manager))
    assert response.status_code == code
    assert response.get_json()["error"]["message"]


def test_api_accept_bad_input(client, world, api_token):
    assert client.post(f"{PREFIX}/invites/unsinn/accept", json={"username": "x.y.z", "password": "ganz-geheim-123"}
                       ).get_json()["error"]["code"] == "invalid_invitation"
    token = membership.token_for(membership_factories.invitation(world.cluster_a, world.manager))
    missing = client.post(f"{PREFIX}/invites/{token}/accept", json={"username": "ohne.passwort"})
    assert missing.status_code == 400
    taken = client.post(f"{PREFIX}/invites/{token}/accept",
                        json={"username": world.member.username, "password": "ganz-geheim-123"})
    assert taken.status_code == 409 and "vergeben" in taken.get_json()["error"]["message"]
    bad_token = client.post(f"{PREFIX}/invites/{token}/accept", json={}, headers={"Authorization": "Bearer falsch"})
    assert bad_token.status_code == 401


def test_api_lists_invitations_and_members_for_managers(client, world, api_token):
    membership_factories.invitation(world.cluster_a, world.manager, "liste@example.org")
    headers = api_token(world.manager)
    invites = client.get(f"{PREFIX}/clusters/{world.cluster_a.slug}/invites", headers=headers).get_json()
    assert [(i["email"], i["state"]) for i in invites["items"]] == [("liste@example.org", "offen")]
    members = client.get(f"{PREFIX}/clusters/{world.cluster_a.slug}/members", headers=headers).get_json()
    assert {m["user"]["username"]: m["role"] for m in members["items"]} == {"mia.member": "member",
                                                                          "max.manager": "manager"}

"""Password reset by e-mail through a real SMTP server: signed, expiring, single-use."""
from __future__ import annotations

import re

from forum.services import accounts


def _link(message) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"https?://\S+/passwort-neu/\S+", body)
    assert match, body
    return match.group(0)


def test_reset_mail_arrives_and_the_link_works_once(world, client, smtp_server):
    response = client.post("/passwort-vergessen", data={"login": world.member.email})
    assert response.status_code == 302
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == world.member.email
    assert "Passwort" in message["Subject"]
    path = _link(message).split("forum.test", 1)[1]
    response = client.post(path, data={"password": "ganz-neues-passwort", "confirm": "ganz-neues-passwort"})
    assert response.status_code == 302
    assert accounts.authenticate(world.member.username, "ganz-neues-passwort") is not None
    again = client.get(path)
    assert again.status_code == 302 and "/passwort-vergessen" in again.headers["Location"]


def test_unknown_account_gets_the_same_answer_and_no_mail(world, client, smtp_server):
    known = client.post("/passwort-vergessen", data={"login": world.member.username}, follow_redirects=True)
    unknown = client.post("/passwort-vergessen", data={"login": "niemand"}, follow_redirects=True)
    assert len(smtp_server.messages) == 1
    flash = re.compile(r"Wenn es ein Konto dazu gibt[^<]*")
    assert flash.search(known.get_data(as_text=True)).group(0) == flash.search(unknown.get_data(as_text=True)).group(0)


def test_expired_token_is_refused(world, app):
    token = accounts.make_reset_token(world.member)
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    assert accounts.user_for_reset_token(token) is None


def test_tampered_token_is_refused(world):
    token = accounts.make_reset_token(world.member)
    assert accounts.user_for_reset_token(token[:-2] + "xx") is None

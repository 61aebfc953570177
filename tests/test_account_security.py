"""Issue 15, point 11: account takeover paths.

(a) a new e-mail address needs the password and a link opened from the new address; the old
address is told. (b) the database, its -wal/-shm files, the secret key, backups and the search
index are the forum's user's only. (c) TOTP secrets are encrypted at rest. (d) cookies set over
HTTPS (also behind a proxy) are Secure, HttpOnly and SameSite=Lax. (e) no GET writes.
"""
from __future__ import annotations

import os
import re
import stat

import pytest
from sqlalchemy import event, text

from forum import backup, create_app
from forum.extensions import db as _db
from tests import factories
from tests.conftest import PG_URL


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- (b) files with secrets ---------------------------------------------------------------------

@pytest.mark.skipif(bool(PG_URL), reason="the database file is SQLite's")
def test_database_secret_key_backups_and_search_index_are_private(tmp_path, monkeypatch):
    """Issue 15, point 11 (b): whatever the umask, the instance folder and the search index are
    0700, the secret key, forum.db and its -wal/-shm files 0600, and a backup folder 0700 with
    0600 files."""
    old_umask = os.umask(0o022)
    try:
        instance = tmp_path / "instance"
        monkeypatch.setenv("FORUM_INSTANCE_DIR", str(instance))
        app = create_app({"SECRET_KEY": None, "SEARCH_DIR": str(tmp_path / "search_index"), "TESTING": True})
        with app.app_context():
            _db.create_all()
            with _db.engine.connect() as conn:   # WAL: a write leaves -wal and -shm beside the file
                conn.execute(text("CREATE TABLE probe (x INTEGER)"))
                conn.commit()
                assert (instance / "forum.db-wal").exists() and (instance / "forum.db-shm").exists()
                for name in ("forum.db", "forum.db-wal", "forum.db-shm", "secret_key"):
                    assert _mode(instance / name) == 0o600, name
            assert _mode(instance) == 0o700
            assert _mode(tmp_path / "search_index") == 0o700
            target = tmp_path / "sicherung"
            backup.backup(target)
            assert _mode(target) == 0o700
            assert {p.name: _mode(p) for p in target.iterdir()} == {"forum.db": 0o600, "manifest.json": 0o600}
            _db.engine.dispose()
        # an existing installation is tightened at the next start
        for path in (instance / "forum.db", instance / "secret_key"):
            path.chmod(0o644)
        instance.chmod(0o755)
        create_app({"SECRET_KEY": None, "SEARCH_DIR": str(tmp_path / "search_index"), "TESTING": True})
        assert (_mode(instance), _mode(instance / "forum.db"), _mode(instance / "secret_key")) == (0o700, 0o600, 0o600)
    finally:
        os.umask(old_umask)


# -- (d) cookies --------------------------------------------------------------------------------

def _cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def _log_in(client, user, **kwargs):
    response = client.post("/login", data={"login": user.username, "password": factories.PASSWORD, "remember": "y"},
                           **kwargs)
    assert response.status_code == 302
    return _cookies(response)


def _flags(cookie: str) -> set[str]:
    return {part.strip().lower() for part in cookie.split(";")[1:]}


def test_cookies_are_secure_over_https_and_behind_a_proxy_but_plain_http_still_works(app, world):
    """Issue 15, point 11 (d): over HTTPS — directly or behind a proxy trusted with
    FORUM_PROXY_HOPS — the session and remember-me cookies are Secure; always HttpOnly and
    SameSite=Lax; on plain HTTP (``make run``) not Secure, so signing in keeps working."""
    plain = _log_in(app.test_client(), world.member)
    assert set(plain) >= {"session", "remember_token"}
    for cookie in plain.values():
        assert "secure" not in _flags(cookie) and {"httponly", "samesite=lax"} <= _flags(cookie), cookie

    direct = _log_in(app.test_client(), world.member, base_url="https://forum.test")
    for name in ("session", "remember_token"):
        assert {"secure", "httponly", "samesite=lax"} <= _flags(direct[name]), direct[name]

    proxied = create_app({**app.config, "PROXY_HOPS": 1})
    with proxied.app_context():   # one app context (one ``g``) per signed-in client
        behind = _log_in(proxied.test_client(), world.member, headers={"X-Forwarded-Proto": "https"})
    for name in ("session", "remember_token"):
        assert {"secure", "httponly", "samesite=lax"} <= _flags(behind[name]), behind[name]
    with proxied.app_context():   # the proxy says plain HTTP: not Secure
        assert "secure" not in _flags(_log_in(proxied.test_client(), world.member)["session"])
    # without a trusted proxy, a client's X-Forwarded-Proto is not believed
    untrusted = _log_in(app.test_client(), world.member, headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in _flags(untrusted["session"])


# -- (a) changing the e-mail address ----------------------------------------------------------

def _confirmation_path(message) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"https?://forum\.test(/konto/email/bestaetigen/\S+)", body)
    assert match, body
    return match.group(1)


def test_a_new_email_address_needs_the_password_and_the_link_from_the_new_mailbox(world, db, client, login,
                                                                                    smtp_server, app):
    """Issue 15, point 11 (a): a signed-in session alone cannot redirect the account's mail
    (and so its password reset): the password is asked, the address changes only when the
    link sent to the new address is confirmed, once, and the old address is told."""
    from forum.models import User
    from forum.services import accounts, email_change

    login(world.member)
    old = world.member.email
    client.post("/konto", data={"display_name": "Mia", "email": "angreifer@example.net", "locale": "de"})
    wrong = client.post("/konto/email", data={"email": "neu@example.net", "password": "geraten"})
    assert wrong.status_code == 400 and "Das Passwort stimmt nicht." in wrong.get_data(as_text=True)
    assert smtp_server.messages == [] and db.session.get(User, world.member.id).email == old

    asked = client.post("/konto/email", data={"email": "neu@example.net", "password": factories.PASSWORD})
    assert asked.status_code == 302
    notice, confirmation = smtp_server.messages
    assert notice["To"] == old and "neu@example.net" in notice.get_body(("plain",)).get_content()
    assert "ändern Sie bitte sofort Ihr Passwort" in notice.get_body(("plain",)).get_content()
    assert confirmation["To"] == "neu@example.net"
    path = _confirmation_path(confirmation)
    db.session.expire_all()
    assert db.session.get(User, world.member.id).email == old          # nothing changed yet

    page = client.get(path)                                              # opening the link writes nothing
    assert page.status_code == 200 and "neu@example.net" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, world.member.id).email == old
    assert client.post(path).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, world.member.id).email == "neu@example.net"
    again = client.post(path, follow_redirects=True)                     # single use
    assert "abgelaufen oder wurde schon verwendet" in again.get_data(as_text=True)

    member = db.session.get(User, world.member.id)
    token = email_change.make_token(member, "dritte@example.net")
    accounts.set_password(member, "ein-ganz-neues-passwort")             # the advice to the old address
    assert email_change.read_token(token) is None
    token = email_change.make_token(member, "dritte@example.net")
    app.config["EMAIL_CHANGE_MAX_AGE"] = -1
    assert email_change.read_token(token) is None                        # time-limited
    app.config["EMAIL_CHANGE_MAX_AGE"] = 3600
    assert email_change.read_token(token[:-2] + "xx") is None            # signed
    assert email_change.read_token(token) is not None


def test_an_address_taken_meanwhile_or_smtp_down_is_a_german_error(world, db, client, login, app):
    """Issue 15, point 11 (a): no 500 and no change when the address is another account's or
    the mail cannot be sent."""
    from forum.models import User

    login(world.member)
    taken = client.post("/konto/email", data={"email": world.manager.email.upper(), "password": factories.PASSWORD})
    assert taken.status_code == 400 and "schon ein Konto" in taken.get_data(as_text=True)
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=1)             # nobody listens there
    down = client.post("/konto/email", data={"email": "neu@example.net", "password": factories.PASSWORD},
                       follow_redirects=True)
    assert down.status_code == 400 and "konnte gerade nicht versendet werden" in down.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, world.member.id).email == world.member.email

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


# -- (e) no GET changes state ---------------------------------------------------------------------

WRITES = ("insert", "update", "delete", "replace", "merge")


def _get_urls(app, world) -> dict[str, str]:
    """One URL per GET route of ``app.url_map``, its arguments filled with the world's objects
    (a route added later is walked too; an argument nobody knows gets 1)."""
    from forum.models import Notification
    from forum.services import accounts, email_change, mail_content, reports
    from tests.test_moderation_matrix import _proposal

    post = factories.reply(world.thread_a, world.member, "Eine Antwort des Mitglieds")
    factories.reply(world.thread_a, world.manager, "Eine Antwort, die das Mitglied noch nicht kennt")
    note = _db.session.query(Notification).filter_by(user_id=world.member.id).first()
    values = {"thread_id": world.thread_a.id, "board_id": world.board_a.id, "post_id": post.id,
              "slug": world.cluster_a.slug, "username": world.member.username, "notification_id": note.id,
              "report_id": reports.create_report(world.manager, post, "spam").id, "proposal_id": _proposal(world),
              "filename": "js/forum.js"}
    tokens = {"notifications.unsubscribe": mail_content.unsubscribe_token(world.member.id, "reply"),
              "accounts.confirm_email": email_change.make_token(world.member, "neu@example.net"),
              "auth.reset": accounts.make_reset_token(world.member)}
    urls = {}
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods:
                continue
            args = {name: tokens.get(rule.endpoint, "kein-token") if name == "token" else values.get(name, 1)
                    for name in rule.arguments}
            urls[rule.endpoint] = app.url_for(rule.endpoint, **args).replace("http://forum.test", "")
    return urls


@pytest.mark.parametrize("role", ["member", "manager"])
def test_no_get_route_writes_to_the_database(app, world, client, login, role):
    """Issue 15, point 11 (e): every GET route of the app (web and API), opened by a signed-in
    member or manager of the world, sends no INSERT, UPDATE or DELETE: viewing a thread does not
    move the read mark, opening a notification does not mark it read, an unsubscribe or e-mail
    confirmation link shows a page with a button. (A link in a mail, a prefetch or another
    site's <img> cannot change anything.)"""
    urls = _get_urls(app, world)
    login(getattr(world, role))
    written: dict[str, list[str]] = {}
    current = [""]

    def watch(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().split(" ", 1)[0].lower() in WRITES:
            written.setdefault(current[0], []).append(statement[:80])

    event.listen(_db.engine, "before_cursor_execute", watch)
    try:
        for endpoint, url in sorted(urls.items()):
            current[0] = f"{endpoint} {url}"
            client.get(url)
    finally:
        event.remove(_db.engine, "before_cursor_execute", watch)
    assert len(urls) > 60
    assert not written, "GET schreibt in die Datenbank:\n" + "\n".join(f"{k}: {v}" for k, v in written.items())


def test_the_thread_page_posts_its_read_mark_and_the_n_new_features_keep_working(world, db, client, login):
    """Issue 15, point 11 (e): the thread page carries a read-mark form that static/js/forum.js
    posts when the page has loaded (its button without JavaScript); that POST moves the read
    mark and marks the thread's notifications read, so "n neu" and the bell keep working."""
    from forum.services import unread

    factories.reply(world.thread_a, world.manager, "Eins")
    newest = factories.reply(world.thread_a, world.manager, "Zwei")
    login(world.member)
    page = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert "2 neu" in client.get(f"/b/{world.board_a.id}").get_data(as_text=True)   # viewing moved nothing
    form = re.search(r'<form class="read-mark[^>]*action="([^"]+)"[^>]*data-read-mark>.*?name="post" value="(\d+)"',
                     page, re.S)
    assert form and int(form.group(2)) == newest.id
    answer = client.post(form.group(1), data={"post": form.group(2)}, headers={"X-Requested-With": "fetch"})
    assert answer.status_code == 204
    assert "neu</a>" not in client.get(f"/b/{world.board_a.id}").get_data(as_text=True)
    assert "bell-count" not in client.get("/").get_data(as_text=True)
    later = factories.reply(world.thread_a, world.manager, "Drei")
    # a mark past the thread's posts is cut to what the thread has; without JS: back to the page
    answer = client.post(form.group(1), data={"post": str(later.id + 1000), "next": f"/t/{world.thread_a.id}"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/t/{world.thread_a.id}")
    assert unread.counts(world.member, [world.thread_a]) == {}
    factories.reply(world.thread_a, world.manager, "Vier")
    assert unread.counts(world.member, [world.thread_a])[world.thread_a.id].count == 1
    assert "forum.js" in page and "<script>" not in page            # no inline script


# -- (c) TOTP secrets at rest ---------------------------------------------------------------------

def test_totp_secrets_are_encrypted_at_rest_and_old_plain_ones_keep_working(world, db, app, monkeypatch):
    """Issue 15, point 11 (c): the database holds the TOTP secret only encrypted with a key
    derived from SECRET_KEY; a secret stored before (plain base32) still works; with another
    secret key the stored value reveals nothing and no code fits."""
    import datetime as dt

    import pyotp

    from forum import sealing
    from forum.models import User
    from forum.services import twofactor

    clock = [dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)]
    monkeypatch.setattr(twofactor, "_now", lambda: clock[0])
    secret = twofactor.new_secret()
    twofactor.enable(world.member, secret, pyotp.TOTP(secret).at(clock[0]))
    stored = db.session.execute(text("SELECT totp_secret FROM users WHERE id = :id"), {"id": world.member.id}).scalar()
    assert stored.startswith("fernet:") and secret not in stored
    db.session.expire_all()
    member = db.session.get(User, world.member.id)
    assert member.totp_secret == secret and member.two_factor_enabled
    clock[0] += dt.timedelta(minutes=1)
    assert twofactor.verify(member, pyotp.TOTP(secret).at(clock[0])) == "totp"

    db.session.execute(text("UPDATE users SET totp_secret = :plain WHERE id = :id"), {"plain": secret, "id": member.id})
    db.session.commit()
    db.session.expire_all()
    member = db.session.get(User, world.member.id)
    clock[0] += dt.timedelta(minutes=1)
    assert twofactor.verify(member, pyotp.TOTP(secret).at(clock[0])) == "totp"   # read-both

    other_key = sealing.unseal(stored, secret_key="ein-anderer-schluessel")
    assert other_key != secret
    assert sealing.unseal(stored) == secret

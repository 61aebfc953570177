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

"""Several app servers on one PostgreSQL database (README: „Betrieb auf mehreren Servern“).

Two gunicorn servers — each with its own instance folder and search folder, the same secret
key — serve the test database with the PostgreSQL search backend and count rate limits in
one Redis (under a key prefix of this test); one mail worker (``flask notifications send``)
delivers to an SMTP server on 127.0.0.1. What one server writes, the other shows and finds at
once; limits, sessions and the mail queue are shared, not per process. PostgreSQL only (the
SQLite run skips); without Redis it skips too, except under CI=true.
"""
from __future__ import annotations

import http.client
import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from forum.extensions import db as _db
from tests import factories
from tests.conftest import PG_URL, csrf_token

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
REDIS_URL = os.environ.get("FORUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKENS_PER_MINUTE = 10   # forum/api/routes.py: POST /api/v1/tokens

pytestmark = [pytest.mark.skipif(not PG_URL, reason="mehrere Server brauchen PostgreSQL (nur im PostgreSQL-Lauf)"),
              pytest.mark.timeout(240)]


@pytest.fixture
def redis_prefix():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis unter {REDIS_URL} ist nicht erreichbar (unter CI=true Pflicht): {error}")
        pytest.skip(f"kein Redis unter {REDIS_URL}: {error}")
    prefix = f"forum-multi-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(match=f"*{prefix}*", count=500):
            client.delete(key)
        client.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _no_control_socket() -> list[str]:
    """gunicorn ≥ 25 opens a control socket at one path per user; servers side by side would
    take it from each other."""
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


def call(port: int, method: str, path: str, body: dict | None = None, token: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        data = response.read()
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        answer = json.loads(data) if data and is_json else None
        return response.status, answer
    finally:
        conn.close()


@pytest.fixture
def cluster_of_servers(app, world, smtp_server, redis_prefix, tmp_path):
    """Two gunicorn servers and a mail worker on the test database; all killed afterwards."""
    ids = {"thread": world.thread_a.id, "member": world.member.username, "member_email": world.member.email,
           "manager": world.manager.username}
    _db.session.commit()
    _db.session.remove()
    _db.engine.dispose()   # the servers own the database from here on
    base = {
        **{key: value for key, value in os.environ.items() if not key.startswith("FORUM_")},
        "FORUM_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "FORUM_SECRET_KEY": f"geteilt-{uuid.uuid4().hex}",
        "FORUM_SEARCH_BACKEND": "postgres",
        "FORUM_RATELIMIT_ENABLED": "true",
        "FORUM_RATELIMIT_STORAGE_URL": REDIS_URL,
        "FORUM_RATELIMIT_KEY_PREFIX": redis_prefix,
        "FORUM_MAIL_SERVER": "127.0.0.1",
        "FORUM_MAIL_PORT": str(app.config["MAIL_PORT"]),
        "FORUM_COMPRESS": "false",
        # the accounts were made with cheap hashes; the same parameters spare a rehash
        "FORUM_ARGON2_TIME_COST": "1", "FORUM_ARGON2_MEMORY_COST": "1024", "FORUM_ARGON2_PARALLELISM": "1",
    }
    processes: list[subprocess.Popen] = []

    def start(name: str, command: list[str]) -> subprocess.Popen:
        folder = tmp_path / name          # an instance folder (and search folder) of its own
        folder.mkdir()
        env = {**base, "FORUM_INSTANCE_DIR": str(folder / "instance"), "FORUM_SEARCH_DIR": str(folder / "search_index")}
        with open(tmp_path / f"{name}.log", "wb") as log:
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        processes.append(process)
        return process

    ports = [_free_port(), _free_port()]
    try:
        for n, port in enumerate(ports, 1):
            start(f"server{n}",
                  [str(GUNICORN), "-c", "python:forum.gunicorn_conf", "-w", "1", "-b", f"127.0.0.1:{port}",
                                 "--access-logfile", "/dev/null", "--log-level", "warning", *_no_control_socket(),
                                 "app:app"])
        # the worker: mails, and the search index the servers' /readyz waits for (Issue 20, point 1)
        start("mailworker", [sys.executable, "-m", "flask", "--app", "app", "forum", "worker", "--interval", "0.5"])
        for port, process in zip(ports, processes, strict=False):  # the last process, the worker, has no port
            _wait_ready(port, process, tmp_path)
        yield ports, ids, smtp_server, [tmp_path / name for name in ("server1", "server2", "mailworker")]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)   # the master and its worker: the group started here
            process.wait(timeout=10)


def _wait_ready(port: int, process: subprocess.Popen, logs: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = "\n".join(p.read_text(errors="replace") for p in sorted(logs.glob("*.log")))
            pytest.fail(f"gunicorn ist beendet (Status {process.returncode}):\n{output[-3000:]}")
        try:
            if call(port, "GET", "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn auf Port {port} antwortet nicht nach {timeout} s")


def _token(port: int, username: str) -> tuple[int, dict | None]:
    return call(port, "POST", "/api/v1/tokens", {"username": username, "password": factories.PASSWORD})


class Browser:
    """One browser: a cookie jar that sends 127.0.0.1's cookies to whichever port it asks."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def open(self, port: int, path: str, form: dict | None = None) -> tuple[str, str]:
        """The final path (after redirects) and the page."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        with self.opener.open(f"http://127.0.0.1:{port}{path}", data=data, timeout=30) as response:
            return urllib.parse.urlsplit(response.geturl()).path, response.read().decode()


def test_two_servers_share_database_search_limits_sessions_and_mail(cluster_of_servers):
    (one, two), ids, inbox, folders = cluster_of_servers
    word = f"Zunftzeichen{uuid.uuid4().hex[:6]}"

    # written through server 1 …
    status, answer = _token(one, ids["manager"])
    assert status == 201, answer
    token = answer["token"]
    status, post = call(one, "POST", f"/api/v1/threads/{ids['thread']}/posts",
                        {"body": f"Unser {word} hängt über der Werkstatt."}, token)
    assert status == 201, post
    # … at once readable and searchable through server 2, with the same token
    status, thread = call(two, "GET", f"/api/v1/threads/{ids['thread']}", token=token)
    assert status == 200 and post["id"] in [p["id"] for p in thread["items"]]
    status, found = call(two, "GET", f"/api/v1/search?q={word}", token=token)
    assert status == 200 and found["total"] == 1 and found["items"][0]["post_id"] == post["id"]
    assert word in found["items"][0]["snippet_html"]

    # the reply's notification: mailed by the worker — before the member reads the thread below
    # (a notification read in the meantime is rightly not mailed any more)
    deadline = time.monotonic() + 60
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [m["To"] for m in inbox.messages] == [ids["member_email"]]

    # one limit for both servers: 10 tokens a minute per address, wherever asked
    statuses = [_token((two, one)[n % 2], ids["manager"])[0] for n in range(TOKENS_PER_MINUTE - 1)]
    assert statuses == [201] * (TOKENS_PER_MINUTE - 1)
    over = [_token(port, ids["manager"]) for port in (one, two)]
    assert [status for status, _answer in over] == [429, 429]
    assert all(answer["error"]["code"] == "rate_limited" for _status, answer in over)

    # a session that began on server 1 is valid on server 2, and so is its CSRF token
    browser = Browser()
    _path, page = browser.open(one, "/login")
    path, _page = browser.open(one, "/login", {"login": ids["member"], "password": factories.PASSWORD,
                                               "csrf_token": csrf_token(page)})
    assert path != "/login"
    path, page = browser.open(two, f"/t/{ids['thread']}")
    assert path == f"/t/{ids['thread']}" and word in page
    browser.open(two, "/logout", {"csrf_token": csrf_token(page)})
    path, _page = browser.open(one, f"/t/{ids['thread']}")
    assert path == "/login"

    # … and none of it twice (the worker ran several more rounds meanwhile)
    time.sleep(1.0)
    assert [m["To"] for m in inbox.messages] == [ids["member_email"]]
    assert word in inbox.messages[0].get_body(("plain",)).get_content()
    # nothing local: no process wrote a search folder or anything into its instance folder
    assert [path.name for folder in folders for path in folder.iterdir()] == ["instance"] * 3
    assert not any(path for folder in folders for path in (folder / "instance").iterdir())


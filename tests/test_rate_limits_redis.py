"""Rate limits hold across processes when they share Redis (FORUM_RATELIMIT_STORAGE_URL).

Two gunicorn servers – separate processes on their own loopback ports – serve one database
(prepared through the app factory: accounts, a cluster, a board, a thread) and count in one
Redis under a key prefix of their own (FORUM_RATELIMIT_KEY_PREFIX). Replies sent alternately
to both are limited on the combined count; with ``memory://`` each process would count alone,
which the test shows as well. Without Redis these tests are skipped – under CI=true they fail.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from forum.extensions import db as _db
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
REDIS_URL = os.environ.get("FORUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTS = 4  # FORUM_LIMIT_POSTS for the servers: "4 per hour"

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def redis_prefix():
    """A key prefix for this test only; its keys are deleted afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis unter {REDIS_URL} ist nicht erreichbar (unter CI=true Pflicht): {error}")
        pytest.skip(f"kein Redis unter {REDIS_URL}: {error}")
    prefix = f"forum-test-{uuid.uuid4().hex[:12]}"
    try:
        yield client, prefix
    finally:
        for key in client.scan_iter(match=f"*{prefix}*", count=500):
            client.delete(key)
        client.close()


@pytest.fixture
def prepared(app, world):
    """The database the servers will use, filled through the app factory (``app``, ``world``);
    the test process lets go of it before they start."""
    ids = {"thread": world.thread_a.id, "member": world.member.username, "manager": world.manager.username}
    _db.session.commit()
    _db.session.remove()
    _db.engine.dispose()  # the servers own the database from here on
    return ids


def _no_control_socket() -> list[str]:
    """gunicorn ≥ 25 opens a control socket at one path per user; servers started side by side
    (here, by other tests, by benchmarks) would take it from each other."""
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def servers(app, tmp_path):
    """``start(storages, prefix)`` → the ports of gunicorn servers (one worker each, one per
    storage URL, started together) on the test database, rate limits on. All are killed in
    teardown."""
    started: list[subprocess.Popen] = []

    def start(storages: list[str], prefix: str) -> list[int]:
        base = {
            **{key: value for key, value in os.environ.items() if not key.startswith("FORUM_")},
            "FORUM_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "FORUM_SECRET_KEY": "test-secret",
            "FORUM_SEARCH_DIR": app.config["SEARCH_DIR"],
            "FORUM_INSTANCE_DIR": str(tmp_path / "instance"),
            "FORUM_RATELIMIT_ENABLED": "true",
            "FORUM_RATELIMIT_KEY_PREFIX": prefix,
            "FORUM_LIMIT_POSTS": f"{POSTS} per hour",
            "FORUM_COMPRESS": "false",
            # the accounts were made with cheap hashes; the same parameters spare a rehash
            "FORUM_ARGON2_TIME_COST": "1", "FORUM_ARGON2_MEMORY_COST": "1024", "FORUM_ARGON2_PARALLELISM": "1",
        }
        ports = []
        for storage in storages:
            port = _free_port()
            with open(tmp_path / f"gunicorn-{port}.log", "wb") as log:
                started.append(subprocess.Popen(
                    [str(GUNICORN), "-c", "python:forum.gunicorn_conf", "-w", "1", "-b", f"127.0.0.1:{port}",
                     "--access-logfile", "/dev/null", "--log-level", "warning", *_no_control_socket(), "app:app"],
                    env={**base, "FORUM_RATELIMIT_STORAGE_URL": storage}, cwd=ROOT, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True))
            ports.append(port)
        for port, process in zip(ports, started[-len(ports):], strict=True):
            _wait_ready(port, process, tmp_path)
        return ports

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the master and its worker: the group started here
        process.wait(timeout=10)


def _wait_ready(port: int, process: subprocess.Popen, logs: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = "\n".join(p.read_text(errors="replace") for p in sorted(logs.glob("gunicorn-*.log")))
            pytest.fail(f"gunicorn ist beendet (Status {process.returncode}):\n{output[-3000:]}")
        try:
            status, _headers, _body = call(port, "GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn auf Port {port} antwortet nicht nach {timeout} s")


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
        return response.status, {k.lower(): v for k, v in response.getheaders()}, answer
    finally:
        conn.close()


def _token(port: int, username: str) -> str:
    status, _headers, answer = call(port, "POST", "/api/v1/tokens",
                                    {"username": username, "password": factories.PASSWORD})
    assert status == 201, answer
    return answer["token"]


def _reply(port: int, thread_id: int, token: str, n: int):
    return call(port, "POST", f"/api/v1/threads/{thread_id}/posts", {"body": f"Antwort Nummer {n}"}, token)


def test_two_servers_sharing_redis_enforce_one_combined_limit(prepared, servers, redis_prefix):
    client, prefix = redis_prefix
    # two servers on Redis, and for contrast two on memory:// – all four started together
    shared_a, shared_b, alone_a, alone_b = servers([REDIS_URL, REDIS_URL, "memory://", "memory://"], prefix)
    token = _token(shared_a, prepared["member"])
    answers = [_reply((shared_a, shared_b)[n % 2], prepared["thread"], token, n) for n in range(POSTS + 2)]
    # each server took half of the successful replies: the limit counted both together
    assert [status for status, _h, _a in answers] == [201] * POSTS + [429, 429]
    for _status, headers, answer in answers[POSTS:]:
        assert answer["error"]["code"] == "rate_limited" and "Beiträge" in answer["error"]["message"]
        assert 1 <= int(headers["retry-after"]) <= 3601
    # the counters live in Redis under this run's prefix
    assert any(client.scan_iter(match=f"*{prefix}*account*", count=500))
    # another account keeps its own budget on both servers
    other = _token(shared_b, prepared["manager"])
    assert [_reply(port, prepared["thread"], other, 9)[0] for port in (shared_a, shared_b)] == [201, 201]
    # memory:// – each process counts alone: the same account gets twice as far
    statuses = [_reply((alone_a, alone_b)[n % 2], prepared["thread"], token, n)[0] for n in range(2 * POSTS + 1)]
    assert statuses == [201] * (2 * POSTS) + [429]

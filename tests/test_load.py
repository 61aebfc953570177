"""Load test: twenty concurrent clients write through gunicorn, and nothing is lost.

gunicorn serves the app with four sync workers on a free loopback port, on the test database
(a WAL SQLite file, or the PostgreSQL test database). Twenty client threads start threads,
reply to random posts and edit their own posts — 2,000 writes in all, mostly through the JSON
API, two clients through the web forms with their CSRF token. Every acknowledged post and the
body of its last acknowledged edit is recorded. Afterwards the database holds each of them
with that body and one revision per edit, no request answered 500 or "database is locked",
``flask search check`` finds index and database in step, a unique word of a few posts is found
through the search API, and every counter and tree field agrees with a COUNT of the rows.

The test prints what it measured (writes acknowledged, lost, 500s, req/s, the workers' CPU
time); it asserts no time. ``LOAD_TEST_WRITES=400`` makes a quick run.
"""
from __future__ import annotations

import collections
import dataclasses
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forum.extensions import db as _db
from forum.models import Board, Post, PostRevision, SearchOutbox, Thread, User
from forum.models.threads import PATH_WIDTH
from forum.services import accounts
from tests import factories
from tests.conftest import PG_URL, csrf_token

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CLIENTS = 20
WEB_CLIENTS = 2            # of the twenty, these reply and edit through the web forms
WRITES = int(os.environ.get("LOAD_TEST_WRITES", 2_000))   # new threads + replies + edits, all clients
REQUEST_TIMEOUT = 30       # seconds per request (gunicorn's own worker timeout is 30 s too)
LOAD_DEADLINE = 600        # a guard against hanging, not a time limit: the clients stop when it passes
CONSONANTS = "bcdfghjklmnpqrstvwxz"

pytestmark = pytest.mark.timeout(900)


# -- the server ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _no_control_socket() -> list[str]:
    """gunicorn ≥ 25 opens a control socket at one fixed path per user; parallel servers (the
    other xdist worker, a benchmark) would take it from each other. Older versions have none."""
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


_NO_CONTROL_SOCKET = _no_control_socket()


@dataclasses.dataclass
class Server:
    port: int
    env: dict
    log: Path
    process: subprocess.Popen


@dataclasses.dataclass
class Cast:
    board_ids: list[int]
    seed_posts: list[tuple[int, int]]       # (post id, thread id) of the opening posts
    users: list[tuple[str, int, str]]       # (username, user id, API token)


@pytest.fixture
def cast(app):
    """A cluster with two boards, a thread in each, and twenty members with an API token."""
    cluster = factories.cluster("Cluster Lasttest")
    boards = [factories.board(cluster, "Werkstatt"), factories.board(cluster, "Energie")]
    users = []
    for n in range(CLIENTS):
        person = factories.member(cluster, factories.user(f"last{n:02d}"))
        users.append((person.username, person.id, accounts.issue_api_token(person, days=1)[0]))
    author = _db.session.get(User, users[0][1])
    threads = [factories.thread(board, author, f"Startthema {board.name}", "Los geht's.") for board in boards]
    cast = Cast([b.id for b in boards], [(t.first_post_id, t.id) for t in threads], users)
    _db.session.remove()
    _db.engine.dispose()    # gunicorn's workers own the database from here on
    return cast


@pytest.fixture
def server(app, cast, tmp_path):
    """gunicorn with four sync workers, started as the project starts it, killed afterwards."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FORUM_")}
    env.update(
        FORUM_INSTANCE_DIR=str(tmp_path / "gunicorn-instance"),
        FORUM_DATABASE_URL=PG_URL or app.config["SQLALCHEMY_DATABASE_URI"],
        FORUM_SEARCH_DIR=str(tmp_path / "gunicorn-search"),
        FORUM_SEARCH_BACKEND=app.config["SEARCH_BACKEND"],
        FORUM_SECRET_KEY="lasttest-geheim",
        FORUM_RATELIMIT_ENABLED="false",
        FORUM_ARGON2_TIME_COST="1", FORUM_ARGON2_MEMORY_COST="1024", FORUM_ARGON2_PARALLELISM="1",
        FORUM_LOG_LEVEL="info",
    )
    # the worker builds the search index before the servers start (requests never do: Issue 20, point 1)
    subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "forum", "worker", "--once"], env=env, cwd=ROOT,
                   check=True, capture_output=True)
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", "python:forum.gunicorn_conf", "-w", "4", "-b", f"127.0.0.1:{port}",
             *_NO_CONTROL_SOCKET, "app:app"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_ready(port, process, log)
        yield Server(port, env, log, process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _wait_ready(port: int, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn ended with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not become ready:\n{log.read_text()[-3000:]}")


# -- the clients --------------------------------------------------------------------------

@dataclasses.dataclass
class Written:
    thread_id: int
    parent_id: int | None
    author_id: int
    first_body: str
    body: str           # the last acknowledged body
    edits: int = 0      # acknowledged edits


class Ledger:
    """Shared by all clients: every acknowledged post, every answer's status, every failure."""

    def __init__(self, seed_posts: list[tuple[int, int]]):
        self.lock = threading.Lock()
        self.targets = list(seed_posts)                 # (post id, thread id) anyone may answer
        self.posts: dict[int, Written] = {}
        self.statuses: collections.Counter = collections.Counter()
        self.failures: list[str] = []
        self.requests = 0
        self.writes = collections.Counter()

    def answered(self, status: int, text: str, what: str) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[status] += 1
            if status >= 500 or "database is locked" in text:
                self.failures.append(f"{what}: {status} {text[:300]}")

    def failed(self, what: str, detail: str) -> None:
        with self.lock:
            self.failures.append(f"{what}: {detail}")

    def target(self, rng: random.Random) -> tuple[int, int]:
        with self.lock:
            return rng.choice(self.targets)

    def created(self, kind: str, post_id: int, thread_id: int, parent_id: int | None, author_id: int,
                body: str) -> int:
        with self.lock:
            self.writes[kind] += 1
            self.posts[post_id] = Written(thread_id, parent_id, author_id, body, body)
            self.targets.append((post_id, thread_id))
        return post_id

    def edited(self, post_id: int, body: str) -> None:
        with self.lock:
            self.writes["edit"] += 1
            self.posts[post_id].body = body
            self.posts[post_id].edits += 1


class Unexpected(Exception):
    """An answer the client did not expect: recorded in the ledger; the client goes on."""


class Client:
    """One member on one HTTP connection, writing through the JSON API. gunicorn's sync workers
    close the connection after each answer; http.client opens the next one by itself."""

    def __init__(self, port: int, ledger: Ledger, user_id: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        self.ledger = ledger
        self.user_id = user_id
        self.token = token
        self.cookie = ""
        self.signed_in = False

    def request(self, method: str, path: str, *, json_body: dict | None = None, form: dict | None = None,
                expect: tuple[int, ...]) -> tuple[str, http.client.HTTPResponse]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if path.startswith("/api/"):
            headers["Authorization"] = f"Bearer {self.token}"
        body = None
        if json_body is not None:
            body = json.dumps(json_body)
            headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        what = f"{method} {path}"
        try:
            self.conn.request(method, path, body, headers)
            response = self.conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as error:  # a timeout or a dropped connection
            self.conn.close()
            self.ledger.failed(what, repr(error))
            raise Unexpected(what) from error
        for cookie in response.msg.get_all("Set-Cookie") or []:
            if cookie.startswith("session=") and not self.signed_in:
                self.cookie = cookie.split(";")[0]
        self.ledger.answered(response.status, text, what)
        if response.status not in expect:
            self.ledger.failed(what, f"{response.status} {text[:300]}")
            raise Unexpected(what)
        return text, response

    def new_thread(self, board_id: int, title: str, body: str) -> int:
        text, _ = self.request("POST", f"/api/v1/boards/{board_id}/threads",
                               json_body={"title": title, "body": body}, expect=(201,))
        answer = json.loads(text)
        return self.ledger.created("thread", answer["first_post"]["id"], answer["id"], None, self.user_id, body)

    def reply(self, thread_id: int, parent_id: int, body: str) -> int:
        text, _ = self.request("POST", f"/api/v1/threads/{thread_id}/posts",
                               json_body={"body": body, "parent_id": parent_id}, expect=(201,))
        return self.ledger.created("reply", json.loads(text)["id"], thread_id, parent_id, self.user_id, body)

    def edit(self, post_id: int, body: str) -> None:
        self.request("PATCH", f"/api/v1/posts/{post_id}", json_body={"body": body}, expect=(200,))
        self.ledger.edited(post_id, body)


class WebClient(Client):
    """Signs in through the login form, then answers and edits through the web forms with the
    session's CSRF token. It keeps the signed-in session cookie and ignores later ones: they
    only add the flash message of the redirect, which a browser would show on the thread page
    (that page costs as much as a write and is not what this test is about). New threads go
    through the API, with the same member's token."""

    csrf = ""

    def sign_in(self, username: str, thread_id: int) -> None:
        page, _ = self.request("GET", "/login", expect=(200,))
        self.request("POST", "/login", form={"csrf_token": csrf_token(page), "login": username,
                                             "password": factories.PASSWORD}, expect=(302,))
        page, _ = self.request("GET", f"/t/{thread_id}/antworten", expect=(200,))
        self.csrf = csrf_token(page)
        self.signed_in = True

    def reply(self, thread_id: int, parent_id: int, body: str) -> int:
        _text, response = self.request("POST", f"/t/{thread_id}/antworten",
                                       form={"csrf_token": self.csrf, "body": body, "parent_id": parent_id},
                                       expect=(302,))
        location = response.getheader("Location", "")
        match = re.search(r"/t/(\d+)\b.*#p(\d+)$", location)
        if not match or int(match.group(1)) != thread_id:
            self.ledger.failed("web reply", f"no post of thread {thread_id} in Location {location!r}")
            raise Unexpected("web reply")
        return self.ledger.created("reply", int(match.group(2)), thread_id, parent_id, self.user_id, body)

    def edit(self, post_id: int, body: str) -> None:
        _text, response = self.request("POST", f"/p/{post_id}/bearbeiten",
                                       form={"csrf_token": self.csrf, "body": body}, expect=(302,))
        if not response.getheader("Location", "").endswith(f"#p{post_id}"):
            self.ledger.failed("web edit", f"redirected to {response.getheader('Location')!r}")
            raise Unexpected("web edit")
        self.ledger.edited(post_id, body)


def made_up_word(rng: random.Random) -> str:
    """A word no other post contains, and no analyser splits into known parts."""
    return "".join(rng.choice(CONSONANTS) for _ in range(12))


def run_client(number: int, client: Client, username: str, ledger: Ledger, board_ids: list[int], writes: int,
               deadline: float) -> None:
    """``writes`` writes: about 8 % new threads, 57 % replies to any acknowledged post, 35 %
    edits of the client's own posts. A failed request is in the ledger; the client goes on."""
    rng = random.Random(1000 + number)
    own: list[int] = []
    try:
        if isinstance(client, WebClient):
            client.sign_in(username, ledger.target(rng)[1])
    except Unexpected:
        return
    for n in range(writes):
        if time.monotonic() > deadline:
            ledger.failed(f"client {number}", f"stopped by the deadline after {n} writes")
            return
        body = f"Beitrag {n} von {username}: {made_up_word(rng)} – Wärmepumpe, Azubis und Förderung."
        roll = rng.random()
        try:
            if roll < 0.08:
                own.append(client.new_thread(rng.choice(board_ids), f"Lastthema {number}/{n}", body))
            elif roll < 0.65 or not own:
                post_id, thread_id = ledger.target(rng)
                own.append(client.reply(thread_id, post_id, body))
            else:
                client.edit(rng.choice(own), f"Bearbeitet: {body}")
        except Unexpected:
            continue


# -- the test -----------------------------------------------------------------------------

def test_twenty_concurrent_clients_lose_no_post_edit_or_count(app, cast, server):
    ledger = Ledger(cast.seed_posts)
    clients = [(WebClient if n < WEB_CLIENTS else Client)(server.port, ledger, user_id, token)
               for n, (_name, user_id, token) in enumerate(cast.users)]
    deadline = time.monotonic() + LOAD_DEADLINE
    workers = [threading.Thread(target=run_client, daemon=True,
                                args=(n, client, cast.users[n][0], ledger, cast.board_ids, WRITES // CLIENTS, deadline))
               for n, client in enumerate(clients)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(max(0.1, deadline + REQUEST_TIMEOUT + 5 - time.monotonic()))
    elapsed = time.monotonic() - started
    hanging = sum(worker.is_alive() for worker in workers)
    server_cpu = _cpu_seconds_of_workers(server.process.pid)

    # The search index: `flask search check` drains what is left and compares (exit 1 on drift);
    # then a made-up word of a few posts, first versions and edits, through the search API.
    check = subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "search", "check"], env=server.env, cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    sample = random.Random(7)
    edited = [pid for pid, w in ledger.posts.items() if w.edits]
    unedited = [pid for pid, w in ledger.posts.items() if not w.edits]
    searcher = Client(server.port, ledger, cast.users[-1][1], cast.users[-1][2])
    not_found, found_stale = [], []
    for post_id in sample.sample(unedited, min(4, len(unedited))) + sample.sample(edited, min(4, len(edited))):
        written = ledger.posts[post_id]
        current = re.search(f"[{CONSONANTS}]{{12}}", written.body).group(0)
        if post_id not in _search(searcher, current):
            not_found.append((post_id, current))
        if written.edits:
            old = re.search(f"[{CONSONANTS}]{{12}}", written.first_body).group(0)
            if post_id in _search(searcher, old):
                found_stale.append((post_id, old))

    # The database, read afresh.
    _db.session.remove()
    rows = {row.id: row for row in _db.session.execute(select(
        Post.id, Post.thread_id, Post.parent_id, Post.author_id, Post.depth, Post.path, Post.branch_id,
        Post.branch_size, Post.body_markdown, Post.revision_count))}
    revisions = dict(_db.session.execute(
        select(PostRevision.post_id, func.count()).group_by(PostRevision.post_id)).all())
    missing = [pid for pid in ledger.posts if pid not in rows]
    wrong = [pid for pid, w in ledger.posts.items() if pid in rows and (
        rows[pid].body_markdown != w.body or rows[pid].revision_count != w.edits or revisions.get(pid, 0) != w.edits
        or (rows[pid].thread_id, rows[pid].parent_id, rows[pid].author_id) != (w.thread_id, w.parent_id, w.author_id))]
    seeded = {post_id for post_id, _thread_id in cast.seed_posts}
    unacknowledged = sorted(set(rows) - set(ledger.posts) - seeded)
    outbox_left = _db.session.scalar(select(func.count()).select_from(SearchOutbox))

    log = server.log.read_text(errors="replace")
    server_500 = len(re.findall(r'"status": "5\d\d"', log))
    lost = len(missing) + len(wrong)
    print(f"\nLasttest ({'PostgreSQL' if PG_URL else 'SQLite'}, gunicorn 4 sync workers, {CLIENTS} clients, "
          f"{WEB_CLIENTS} via web forms): {len(ledger.posts)} posts acknowledged ({ledger.writes['thread']} threads, "
          f"{ledger.writes['reply']} replies) and {ledger.writes['edit']} edits; lost {lost}; "
          f"unacknowledged rows {len(unacknowledged)}; 500s {ledger.statuses.get(500, 0)} (log: {server_500}); "
          f"{ledger.requests} requests in {elapsed:.1f} s = {ledger.requests / elapsed:.0f} req/s, "
          f"{sum(ledger.writes.values()) / elapsed:.0f} writes/s; server CPU {server_cpu:.0f} s = "
          f"{1000 * server_cpu / max(1, ledger.requests):.0f} ms per request; statuses {dict(ledger.statuses)}")

    assert not hanging, f"{hanging} clients still running after the deadline"
    assert not ledger.failures, f"{len(ledger.failures)} failed requests, e.g. {ledger.failures[:5]}"
    assert sum(ledger.writes.values()) == WRITES // CLIENTS * CLIENTS
    assert "database is locked" not in log and "Traceback" not in log and server_500 == 0, log[-3000:]
    assert not missing, f"acknowledged posts missing: {missing[:20]}"
    assert not wrong, f"posts without their last acknowledged body or edits: {wrong[:20]}"
    assert not unacknowledged, f"posts written but never acknowledged: {unacknowledged[:20]}"
    assert check.returncode == 0, check.stdout + check.stderr
    assert outbox_left == 0
    assert not not_found and not found_stale, (not_found, found_stale)
    _assert_tree_and_counters(rows)


def _cpu_seconds_of_workers(master: int) -> float:
    """User + system CPU time of gunicorn's workers so far (Linux /proc; 0 elsewhere): the cost
    of the load independent of how busy the machine is."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:    # fields after the name: state, ppid, …, utime (12), stime (13)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _search(client: Client, word: str) -> set[int]:
    text, _ = client.request("GET", "/api/v1/search?" + urllib.parse.urlencode({"q": word, "per_page": 100}),
                             expect=(200,))
    return {item["post_id"] for item in json.loads(text)["items"]}


def _assert_tree_and_counters(rows: dict) -> None:
    """Every post sits where its parent says; every counter equals a COUNT of the rows."""
    for post in rows.values():
        if post.parent_id is None:
            assert (post.depth, post.path, post.branch_id) == (0, str(post.id).zfill(PATH_WIDTH), post.id), post
            continue
        parent = rows[post.parent_id]
        branch = post.id if parent.parent_id is None else parent.branch_id
        assert (post.thread_id, post.depth, post.path, post.branch_id) == (
            parent.thread_id, parent.depth + 1, f"{parent.path}/{str(post.id).zfill(PATH_WIDTH)}", branch), post
    below = collections.Counter(post.branch_id for post in rows.values() if post.depth >= 2)
    wrong_branches = [(post.id, post.branch_size, 1 + below[post.id]) for post in rows.values()
                      if post.depth == 1 and post.branch_size != 1 + below[post.id]]
    assert not wrong_branches, wrong_branches[:20]

    replies = dict(_db.session.execute(select(Post.thread_id, func.count()).where(Post.parent_id.is_not(None))
                                       .group_by(Post.thread_id)).all())
    branches = dict(_db.session.execute(select(Post.thread_id, func.count()).where(Post.depth == 1)
                                        .group_by(Post.thread_id)).all())
    firsts = {post.thread_id: post.id for post in rows.values() if post.parent_id is None}
    threads = _db.session.execute(select(Thread.id, Thread.board_id, Thread.reply_count, Thread.branch_count,
                                         Thread.first_post_id)).all()
    wrong_threads = [(t.id, t.reply_count, replies.get(t.id, 0), t.branch_count, branches.get(t.id, 0))
                     for t in threads if (t.reply_count, t.branch_count, t.first_post_id)
                     != (replies.get(t.id, 0), branches.get(t.id, 0), firsts.get(t.id))]
    assert not wrong_threads, f"(thread, reply_count, COUNT, branch_count, COUNT): {wrong_threads[:20]}"

    thread_counts = dict(_db.session.execute(select(Thread.board_id, func.count()).group_by(Thread.board_id)).all())
    post_counts = dict(_db.session.execute(select(Thread.board_id, func.count(Post.id))
                                           .join(Post, Post.thread_id == Thread.id).group_by(Thread.board_id)).all())
    boards = _db.session.execute(select(Board.id, Board.thread_count, Board.post_count)).all()
    wrong_boards = [tuple(b) for b in boards
                    if (b.thread_count, b.post_count) != (thread_counts.get(b.id, 0), post_counts.get(b.id, 0))]
    assert not wrong_boards, f"(board, thread_count, post_count): {wrong_boards}"


# -- the two fixes the load test led to ---------------------------------------------------------

def test_a_write_whose_index_drain_fails_still_answers_201_and_keeps_the_outbox_row(
        world, client, api_token, monkeypatch):
    """The post is committed before the drain; a 500 would report it lost (and a retry would
    post it twice). The outbox row stays for the next drain."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from forum.search import outbox

    def locked(*_args, **_kwargs):
        raise OperationalError("DELETE FROM search_outbox", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(outbox, "drain", locked)
    response = client.post(f"/api/v1/threads/{world.thread_a.id}/posts", json={"body": "Trotzdem gespeichert."},
                           headers=api_token(world.member))
    assert response.status_code == 201, response.get_json()
    post_id = response.get_json()["id"]
    assert _db.session.get(Post, post_id).body_markdown == "Trotzdem gespeichert."
    assert _db.session.scalar(select(func.count()).select_from(SearchOutbox)
                              .where(SearchOutbox.kind == "post", SearchOutbox.object_id == post_id)) == 1


@pytest.mark.skipif(bool(PG_URL), reason="SQLite only")
def test_sqlite_waits_up_to_20_s_for_the_write_lock(app):
    from sqlalchemy import text

    from forum.extensions import SQLITE_BUSY_TIMEOUT_MS

    assert SQLITE_BUSY_TIMEOUT_MS == 20_000
    assert _db.session.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS
    assert _db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"

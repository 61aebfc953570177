#!/usr/bin/env python3
"""HTTP benchmark: corpus → `forum import` → gunicorn → wrk from a second process.

    .venv/bin/python bench/http_bench.py                        # small and medium corpus, 2 and 4 workers
    .venv/bin/python bench/http_bench.py --sizes small --workers 2 --duration 5

For each corpus size it builds the corpus with ../shared/bench/make_corpus.py, imports it into
a fresh SQLite instance under bench/out/, rebuilds the search index, adds a thread with 500
replies, serves the app with gunicorn (sync workers) and loads each page as a signed-in member
with wrk on 127.0.0.1. It prints req/s, p50 and p99 per page, each page's throughput as a
fraction of /healthz in the same run (comparable across machines), and the resident memory of
every worker. One row loads the thread page while a third client posts two replies a second
into that thread (every write makes each worker render its cached pages again), and one row
posts replies as fast as wrk can.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT.parent / "shared" / "bench" / "make_corpus.py"
VENV_BIN = Path(sys.executable).parent
SIZES = {
    "small": ["--users", "500", "--clusters", "6", "--boards-per-cluster", "5", "--threads", "2000"],
    "medium": ["--users", "3000", "--clusters", "8", "--boards-per-cluster", "6", "--threads", "20000"],
    "large": ["--users", "10000", "--clusters", "20", "--boards-per-cluster", "6", "--threads", "100000"],
}
PASSWORD = "bench-passwort-123"
WRITES_PER_SECOND = 2   # a very busy cluster forum; see wrk_while_writing
WARM_UP_SECONDS = 1

PREPARE = textwrap.dedent("""
    import json, random
    from sqlalchemy import func, select
    from forum import create_app
    from forum.extensions import db
    from forum.models import Board, Membership, Post, Thread, User
    from forum.search import service as search
    from forum.services import accounts, posting

    app = create_app()
    with app.app_context():
        user_id = db.session.scalar(select(Membership.user_id).group_by(Membership.user_id)
                                    .order_by(func.count().desc(), Membership.user_id).limit(1))
        user = db.session.get(User, user_id)
        accounts.set_password(user, PASSWORD)
        cluster = sorted(user.memberships, key=lambda m: m.cluster_id)[0].cluster
        board = db.session.scalar(select(Board).where(Board.cluster_id == cluster.id)
                                  .order_by(Board.thread_count.desc()).limit(1))
        thread = db.session.scalar(select(Thread).where(Thread.board_id == board.id, Thread.reply_count >= 25)
                                   .order_by(Thread.id).limit(1))
        big = posting.create_thread(user, board, "Lasttest: ein Thema mit 500 Antworten",
                                    "Wie viele Antworten hält eine Seite aus?")
        rng = random.Random(1)
        ids = [big.first_post_id]
        for n in range(500):
            parent = ids[0] if rng.random() < 0.5 else rng.choice(ids)
            ids.append(posting.reply(user, big, f"Antwort Nummer {n + 1} zur Wärmepumpe im Altbau.", parent).id)
        search.drain()
        print(json.dumps({"username": user.username, "cluster": cluster.slug, "board": board.id,
                          "thread": thread.id, "big_thread": big.id,
                          "posts": db.session.scalar(select(func.count()).select_from(Post))}))
""").replace("PASSWORD", repr(PASSWORD))

REPLY_LUA = textwrap.dedent("""
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer TOKEN"
    wrk.body = '{"body": "Gute Frage – bei uns hat sich die Wärmepumpe im Altbau bewährt."}'
""")


def run(cmd: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=ROOT, check=True, **kwargs)


def build_instance(size: str, out: Path, reuse: bool = False) -> tuple[dict, dict, dict]:
    folder = out / size
    corpus = out / f"corpus-{size}.jsonl"
    env = {**os.environ, "FORUM_INSTANCE_DIR": str(folder), "FORUM_DATABASE_URL": f"sqlite:///{folder / 'forum.db'}",
           "FORUM_SEARCH_DIR": str(folder / "search_index"), "FORUM_SECRET_KEY": "bench-secret",
           "FORUM_RATELIMIT_ENABLED": "false"}
    saved = folder / "bench-info.json"
    if reuse and saved.exists():  # an instance built by an earlier run: its build figures are reported again
        state = json.loads(saved.read_text())
        return env, state["info"], state["timings"]
    if not corpus.exists():
        run([sys.executable, str(GENERATOR), *SIZES[size], "--posts-per-thread", "10", "--seed", "1",
             "--out", str(corpus)], os.environ.copy())
    subprocess.run(["rm", "-rf", str(folder)], check=True)
    folder.mkdir(parents=True)
    flask = [str(VENV_BIN / "flask"), "--app", "app"]
    timings = {}
    start = time.perf_counter()
    run([*flask, "db", "upgrade"], env, capture_output=True)
    run([*flask, "forum", "import", str(corpus)], env, stdout=subprocess.DEVNULL)
    timings["import_s"] = time.perf_counter() - start
    start = time.perf_counter()
    run([*flask, "search", "reindex"], env, stdout=subprocess.DEVNULL)
    timings["reindex_s"] = time.perf_counter() - start
    prepared = run([sys.executable, "-c", PREPARE], env, capture_output=True, text=True)
    info = json.loads(prepared.stdout.strip().splitlines()[-1])
    saved.write_text(json.dumps({"info": info, "timings": timings}))
    return env, info, timings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not come up")


def sign_in(port: int, username: str) -> tuple[str, str]:
    """The session cookie of a signed-in member and an API token."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # first requests build caches
    conn.request("GET", "/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = next((c.split(";")[0] for c in response.msg.get_all("Set-Cookie") or [] if c.startswith("session=")), "")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "login": username, "password": PASSWORD})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    cookies = [c.split(";")[0] for c in response.msg.get_all("Set-Cookie") or []]
    session = next((c for c in cookies if c.startswith("session=")), "")
    assert response.status == 302 and session, (response.status, cookies)
    # the welcome message waits in the session until a page shows it; a browser then keeps the
    # cookie without it, so must the load generator (otherwise every page shows it again)
    conn.request("GET", "/", headers={"Cookie": session})
    response = conn.getresponse()
    response.read()
    session = next((c.split(";")[0] for c in response.msg.get_all("Set-Cookie") or [] if c.startswith("session=")),
                   session)
    conn.request("POST", "/api/v1/tokens", json.dumps({"username": username, "password": PASSWORD}),
                 {"Content-Type": "application/json"})
    answer = conn.getresponse()
    return session, json.loads(answer.read())["token"]


def wrk(url: str, duration: int, connections: int, cookie: str, script: Path | None = None) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-H", f"Cookie: {cookie}"]
    if script:
        cmd += ["-s", str(script)]
    output = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p50": to_ms(latency.get("50", "0ms")), "p99": to_ms(latency.get("99", "0ms")),
            "errors": int(errors.group(1)) if errors else 0}


def to_ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def worker_memory_mb(master: int) -> list[tuple[float, float]]:
    """(RSS, PSS) of each worker: resident memory, and its share of it with the pages it shares
    with the master and the other workers (the preloaded app) divided among them."""
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    sizes = []
    for pid in children:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        rss, pss = (int(re.search(rf"^{name}:\s+(\d+)", rollup, re.M).group(1)) / 1024 for name in ("Rss", "Pss"))
        sizes.append((rss, pss))
    return sizes


def bench(size: str, workers: int, cache: str, env: dict, info: dict, args, out: Path) -> list[dict]:
    port = free_port()
    env = {**env, "FORUM_PAGE_CACHE": "true" if cache == "on" else "false"}
    server = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-c", "python:forum.gunicorn_conf", "-w", str(workers),
                               "-b", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "--log-level", "warning",
                               "app:app"], env=env, cwd=ROOT)
    try:
        wait_ready(port)
        session, token = sign_in(port, info["username"])
        base = f"http://127.0.0.1:{port}"
        # The member has read the measured thread to its end, as someone who keeps up: the
        # thousands of replies earlier runs wrote into it would otherwise lie beyond the read
        # mark, and every list page would walk them to tell they are the member's own.
        thread_path = f"/t/{info['thread']}?view=flat"
        assert get(f"{base}{thread_path}&page=99999", session) == 200   # its last page
        pages = [
            ("healthz", "/healthz"),
            ("start page", "/"),
            ("cluster home", f"/c/{info['cluster']}"),
            ("board page", f"/b/{info['board']}"),
            ("thread page (20 posts)", thread_path),
            ("500-reply thread, tree", f"/t/{info['big_thread']}?view=tree"),
            ("search", "/search?q=" + urllib.parse.quote("Wärmepumpe Förderung")),
        ]
        for _name, path in pages:
            # Warm every worker: one request after the other would mostly reach the same idle
            # worker, and another's first search at a million posts (its postings and
            # permission masks, about 0.3 s) would then fall into the measurement as its p99.
            wrk(base + path, WARM_UP_SECONDS, args.connections, session)
        rows = []
        for name, path in pages:
            rows.append({"page": name, **wrk(base + path, args.duration, args.connections, session)})
        rows.append({"page": f"thread + {WRITES_PER_SECOND} replies/s",
                     **wrk_while_writing(base + thread_path, args, session,
                                         f"{base}/api/v1/threads/{info['thread']}/posts", token)})
        script = out / "reply.lua"
        script.write_text(REPLY_LUA.replace("TOKEN", token))
        rows.append({"page": "post a reply (API)",
                     **wrk(f"{base}/api/v1/threads/{info['thread']}/posts", args.duration, args.connections, session,
                           script)})
        memory = worker_memory_mb(server.pid)
        healthz = rows[0]["rps"] or 1
        for row in rows:
            row.update(size=size, workers=workers, cache=cache, ratio=row["rps"] / healthz,
                       rss_max=max(m[0] for m in memory) if memory else 0,
                       pss_max=max(m[1] for m in memory) if memory else 0)
        return rows
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def wrk_while_writing(url: str, args, cookie: str, reply_url: str, token: str) -> dict:
    """The thread page under load while replies arrive in that very thread through the API,
    WRITES_PER_SECOND of them, from a third client: every reply changes the database, so each
    worker's cached pages are rendered again after it (the page cache's worst case)."""
    stop = threading.Event()
    written = 0
    parts = urllib.parse.urlsplit(reply_url)

    def writer() -> None:
        nonlocal written
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        body = json.dumps({"body": "Bei uns läuft die Wärmepumpe im Altbau seit zwei Wintern ohne Ärger."})
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        next_at = time.monotonic()
        while not stop.is_set():
            conn.request("POST", parts.path, body, headers)
            response = conn.getresponse()
            response.read()
            written += response.status == 201
            next_at += 1 / WRITES_PER_SECOND
            stop.wait(max(0.0, next_at - time.monotonic()))

    thread = threading.Thread(target=writer, daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        result = wrk(url, args.duration, args.connections, cookie)
    finally:
        stop.set()
        thread.join(timeout=30)
    return {**result, "writes": written, "write_seconds": time.monotonic() - started}


def get(url: str, cookie: str) -> int:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("GET", f"{parts.path}?{parts.query}" if parts.query else parts.path, headers={"Cookie": cookie})
    response = conn.getresponse()
    response.read()
    return response.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="small,medium", help="small, medium, large (= one million posts)")
    parser.add_argument("--workers", default="2,4")
    parser.add_argument("--duration", type=int, default=10, help="seconds per page")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--page-cache", default="on,off",
                        help="on: pages as served (a member's repeated view comes from the page cache until "
                             "the database changes); off: every request renders (FORUM_PAGE_CACHE=false)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--reuse", action="store_true",
                        help="serve an instance an earlier run built (same size) instead of building it again")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results, builds = [], {}
    for size in args.sizes.split(","):
        env, info, timings = build_instance(size, out, args.reuse)
        builds[size] = {**timings, "posts": info["posts"]}
        for workers in (int(w) for w in args.workers.split(",")):
            for cache in args.page_cache.split(","):
                results.extend(bench(size, workers, cache, env, info, args, out))
    print(f"\nmachine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, SQLite, gunicorn sync workers, wrk -t2 -c{args.connections} "
          f"-d{args.duration}s")
    for size, build in builds.items():
        print(f"corpus {size}: {build['posts']:,} posts; import {build['import_s']:.1f} s; "
              f"reindex {build['reindex_s']:.1f} s")
    print(f"\n{'size':<7} {'workers':>7} {'cache':>5}  {'page':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'÷healthz':>8} {'errors':>6} {'RSS MB':>7} {'PSS MB':>7}")
    for row in results:
        print(f"{row['size']:<7} {row['workers']:>7} {row['cache']:>5}  {row['page']:<26} {row['rps']:>8.1f} "
              f"{row['p50']:>8.1f} {row['p99']:>8.1f} {row['ratio']:>8.3f} {row['errors']:>6} "
              f"{row['rss_max']:>7.0f} {row['pss_max']:>7.0f}")
    writes = [row for row in results if "writes" in row]
    if writes:
        print("\nreplies written during the 'thread + replies/s' rows: "
              + ", ".join(f"{row['size']}/{row['workers']}/{row['cache']} {row['writes']} "
                          f"in {row['write_seconds']:.1f} s" for row in writes))


if __name__ == "__main__":
    main()

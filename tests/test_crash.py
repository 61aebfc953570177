"""Crash safety: a process killed with SIGKILL while it writes posts or the search index loses
nothing it acknowledged, leaves nothing half-written, and the next process heals the index
by itself — ``flask search check`` in a fresh process exits 0.

A child process (``CHILD`` below, run with ``create_app`` on the test's database and index
folder) writes or indexes; an environment variable makes it stop at a chosen point — inside
a write transaction, inside the Whoosh writer of a drain, half-way through a rebuild — and
say so on stdout, where the test kills it. The pauses live in the child script only, never
in the product. Each test prints its runs (``pytest -s`` shows them).
"""
from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from forum.config import ROOT
from forum.models import Board, Post, SearchOutbox, Thread
from forum.search import service
from forum.search.whoosh_backend import STALE_NAME
from tests import factories

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL and /proc: Linux only")

CHILD = r'''
import json, os, sys, time
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from forum import create_app
from forum.extensions import db
from forum.models import Board, User
from forum.search import service
from forum.search.whoosh_backend import WhooshBackend
from forum.services import posting

mode, config = sys.argv[1], json.loads(sys.argv[2])
pause = os.environ.get("CRASH_PAUSE", "")   # flush:N, drain:N (N-th write) or reindex:N (N-th document)
step = 0

def hold(where):
    print(f"pause {where} {step}", flush=True)
    time.sleep(300)                          # the test kills us here

@event.listens_for(Session, "after_flush")
def inside_the_transaction(_session, _context):
    if pause == f"flush:{step}":
        hold("flush")

original_update = WhooshBackend.update
def update(self, documents, **removed):      # the index writer is open and locked while this runs
    def documents_then_pause():
        if pause == f"drain:{step}":
            hold("drain")
        yield from documents
    return original_update(self, documents_then_pause(), **removed)
WhooshBackend.update = update

app = create_app(config)
with app.app_context():
    if mode == "write":                      # threads and replies, each drained like a write request
        user = db.session.scalar(select(User).where(User.username == config["CRASH_USER"]))
        board = db.session.get(Board, config["CRASH_BOARD"])
        thread = None
        for step in range(1, 10_000):
            if step % 3 == 1:
                thread = posting.create_thread(user, board, f"Absturz {step}", f"Eröffnung {step} Schornsteinfeger")
                post_id = thread.first_post_id
            else:
                post_id = posting.reply(user, thread, f"Antwort {step} Schornsteinfeger").id
            service.drain()
            print(f"ack {post_id}", flush=True)
    elif mode == "reindex":                  # what `flask search reindex` runs
        def progress(n):
            global step
            step += n
            if pause == f"reindex:{step}":
                hold("reindex")
        service.rebuild(progress)
    elif mode == "drain":
        step = 1
        service.drain()
    print("done", flush=True)
'''


# -- the child process and the fresh process after it -----------------------------------------

class Child:
    """The child script, its stdout read line by line on a thread (so reads can time out)."""

    def __init__(self, app, tmp_path: Path, mode: str, pause: str = "", **extra):
        script = tmp_path / "crash_child.py"
        script.write_text(CHILD)
        config = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                  "SEARCH_DIR": app.config["SEARCH_DIR"], "SECRET_KEY": "test-secret", "TESTING": True,
                  "RATELIMIT_ENABLED": False, "MAIL_SERVER": None, "SERVER_NAME": "forum.test", **extra}
        self.stderr = tmp_path / f"crash_child_{time.monotonic_ns()}.err"
        with open(self.stderr, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(script), mode, json.dumps(config)], cwd=ROOT,
                env=_env(app, tmp_path, CRASH_PAUSE=pause), stdout=subprocess.PIPE, stderr=stderr, text=True,
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.acknowledged: list[int] = []
        self.subprocesses: list[int] = []

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def until(self, predicate, timeout: float = 60.0) -> str:
        """Reads lines (collecting acknowledged ids) until one meets ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no such line within {timeout} s") from None
            if line is None:
                raise AssertionError(f"child ended early: {self.process.wait()} {self.stderr.read_text()[-2000:]}")
            if line.startswith("ack "):
                self.acknowledged.append(int(line.split()[1]))
            if predicate(line):
                return line

    def kill(self) -> list[int]:
        """SIGKILL to the child alone (as a gunicorn timeout or the OOM killer would); returns
        the pids of its own subprocesses at that moment."""
        children = self.subprocesses = _children(self.process.pid)
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(10) == -signal.SIGKILL
        deadline = time.monotonic() + 5      # acknowledgements already in the pipe still count; the
        while time.monotonic() < deadline:   # pipe stays open while a subprocess of the child lives
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            if line.startswith("ack "):
                self.acknowledged.append(int(line.split()[1]))
        return children


@pytest.fixture
def spawn(app, tmp_path):
    """``spawn(mode, pause, **config)`` starts a child; whatever of it still runs at the end
    (after a failed assertion) is killed, the child and its own subprocesses, by pid."""
    started: list[Child] = []

    def _spawn(mode: str, pause: str = "", **extra) -> Child:
        child = Child(app, tmp_path, mode, pause, **extra)
        started.append(child)
        return child

    yield _spawn
    for child in started:
        if child.process.poll() is None:
            child.subprocesses += _children(child.process.pid)
            child.process.kill()
            child.process.wait(10)
        for pid in child.subprocesses:
            with contextlib.suppress(OSError):   # gone meanwhile
                if _alive(pid) and "crash_child" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                    os.kill(pid, signal.SIGKILL)


def _env(app, tmp_path: Path, **extra) -> dict[str, str]:
    return dict(os.environ, FORUM_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
                FORUM_SEARCH_DIR=app.config["SEARCH_DIR"], FORUM_SECRET_KEY="test-secret",
                FORUM_INSTANCE_DIR=str(tmp_path / "instance"), PYTHONPATH=str(ROOT), **extra)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _fresh_search_check(app, tmp_path: Path) -> subprocess.CompletedProcess:
    """``flask search check`` in a new process: its first use of the index repairs a broken
    one and drains the outbox (``service.ensure_ready``, ``service.drain``), then compares."""
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", "search", "check"], cwd=ROOT,
                          env=_env(app, tmp_path), capture_output=True, text=True, timeout=120)


# -- what must hold after any crash ------------------------------------------------------------

def _half_written(db) -> list[str]:
    """Threads without their opening post, and counters that disagree with the posts."""
    db.session.expire_all()
    problems = []
    for thread in db.session.scalars(select(Thread)):
        first = db.session.get(Post, thread.first_post_id) if thread.first_post_id else None
        if first is None or first.thread_id != thread.id or first.parent_id is not None:
            problems.append(f"thread {thread.id} has no opening post")
        replies = db.session.scalar(select(func.count(Post.id)).where(
            Post.thread_id == thread.id, Post.parent_id.is_not(None), Post.awaiting_approval.is_(False)))
        branches = db.session.scalar(select(func.count(Post.id)).where(
            Post.thread_id == thread.id, Post.depth == 1, Post.awaiting_approval.is_(False)))
        if (thread.reply_count, thread.branch_count) != (replies, branches):
            problems.append(f"thread {thread.id}: counters {thread.reply_count}/{thread.branch_count}, "
                            f"posts {replies}/{branches}")
    for board in db.session.scalars(select(Board)):
        threads = db.session.scalar(select(func.count(Thread.id)).where(Thread.board_id == board.id))
        posts = db.session.scalar(select(func.count(Post.id)).join(Thread, Thread.id == Post.thread_id)
                                  .where(Thread.board_id == board.id, Post.awaiting_approval.is_(False)))
        if (board.thread_count, board.post_count) != (threads, posts):
            problems.append(f"board {board.id}: counters {board.thread_count}/{board.post_count}, "
                            f"rows {threads}/{posts}")
    db.session.commit()
    return problems


def _outbox_rows(db) -> int:
    count = db.session.scalar(select(func.count(SearchOutbox.id)))
    db.session.commit()
    return count


# -- a writer killed ---------------------------------------------------------------------------

WRITER_KILLS = {
    # name: (pause in the child, when to kill once the child is running)
    "zwischen zwei Beiträgen": ("", lambda child: (child.until(lambda line: len(child.acknowledged) >= 4),
                                                   time.sleep(0.05))),
    "in der Transaktion": ("flush:4", lambda child: child.until(lambda line: line == "pause flush 4")),
    "im Index-Schreiber": ("drain:5", lambda child: child.until(lambda line: line == "pause drain 5")),
}


def test_a_killed_writer_loses_no_acknowledged_post(world, db, app, tmp_path, spawn):
    service.drain()
    assert _half_written(db) == []
    outcomes = []
    for name, (pause, wait) in WRITER_KILLS.items():
        before = _written(db)
        child = spawn("write", pause, CRASH_USER=world.member.username, CRASH_BOARD=world.board_a.id)
        wait(child)
        child.kill()
        stored = set(db.session.scalars(select(Post.id).where(Post.id.in_(child.acknowledged))))
        lost = sorted(set(child.acknowledged) - stored)
        outcomes.append(f"{name}: {len(child.acknowledged)} bestätigt, {len(lost)} verloren, "
                        f"{_written(db) - before - len(stored)} gespeichert ohne Bestätigung")
        assert child.acknowledged and lost == [], outcomes
        assert _half_written(db) == [], name
        check = _fresh_search_check(app, tmp_path)
        assert check.returncode == 0, (name, check.stdout, check.stderr[-2000:])
        assert _outbox_rows(db) == 0, name
    print(f"\n{len(outcomes)} Schreiber mit SIGKILL beendet – " + "; ".join(outcomes))
    threads = db.session.scalar(select(func.count(func.distinct(Post.thread_id)))
                                .where(Post.body_markdown.contains("Schornsteinfeger")))
    service._ready.clear()
    service.backend()._forget()
    assert service.search(world.member, service.Params(q="Schornsteinfeger")).total == threads > 0


def _written(db) -> int:
    count = db.session.scalar(select(func.count(Post.id)).where(Post.body_markdown.contains("Schornsteinfeger")))
    db.session.commit()
    return count


# -- indexing killed ---------------------------------------------------------------------------

def _many_posts(world, db, count: int) -> None:
    """``count`` replies written straight into the table (fast; the index is built after)."""
    first = factories.first_post(world.thread_a)
    now = first.created_at
    db.session.execute(insert(Post), [
        {"thread_id": world.thread_a.id, "author_id": world.member.id, "parent_id": first.id, "depth": 1,
         "path": f"{first.path}/x{n:06d}", "body_markdown": f"Nachwuchs {n}",
         "body_html": f"<p>Nachwuchs {n} im Handwerk: Ausbildung, Berufsschule, Gesellenbrief</p>",
         "created_at": now}
        for n in range(count)
    ])
    db.session.commit()


def test_killed_indexing_heals_and_leaves_no_lock_behind(world, db, app, tmp_path, spawn):
    """Three kill points: a rebuild over a good index, a rebuild from scratch (index missing,
    as at a first start) and a drain inside the Whoosh writer. Afterwards the index's
    subprocesses are gone, no lock is held, and a fresh process repairs the index."""
    _many_posts(world, db, 300)
    service.rebuild()
    folder = Path(app.config["SEARCH_DIR"])
    outcomes = []
    for name in ("Neuaufbau", "Neuaufbau ohne Index", "Abarbeiten der Warteschlange"):
        if name == "Neuaufbau ohne Index":
            for path in folder.iterdir():
                if path.name != "drain.lock":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        if name == "Abarbeiten der Warteschlange":
            db.session.add(SearchOutbox(kind="thread", object_id=world.thread_a.id))
            db.session.commit()
            child = spawn("drain", "drain:1")
            child.until(lambda line: line == "pause drain 1")
        else:
            child = spawn("reindex", "reindex:250")
            child.until(lambda line: line == "pause reindex 250")
        indexers = child.kill()
        assert (folder / "MAIN_WRITELOCK").exists()   # Whoosh's lock file stays; its lock went with the holders
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in indexers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in indexers), f"{name}: Index-Prozesse leben weiter"
        # a post written after the crash must reach the index: the drain needs the lock
        factories.reply(world.thread_a, world.member, f"Nach dem Absturz beim {name}: Meisterschule")
        check = _fresh_search_check(app, tmp_path)
        assert check.returncode == 0, (name, check.stdout, check.stderr[-2000:])
        assert not (folder / STALE_NAME).exists(), name
        assert _outbox_rows(db) == 0, name
        outcomes.append(f"{name}: {len(indexers)} Index-Prozesse beendet, Index geheilt")
    print("\n" + "; ".join(outcomes))
    service._ready.clear()
    service.backend()._forget()
    assert service.search(world.member, service.Params(q="Meisterschule")).total == 1
    assert len(service.backend().indexed()) == 300 + 3 + 3

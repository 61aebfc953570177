"""Benchmark: a reply in a thread with 500 watchers.

Measures (1) the reply request's latency — it only writes the notifications, no mail is
sent in the request — and (2) the time the worker (``mailer.run_once``) needs to queue and
send all 500 mails to a local aiosmtpd server. Prints a table with the corpus size, p50/p95
and the machine.

    .venv/bin/python bench/notify_bench.py [--watchers 500] [--rounds 10] [--database-url URL]
"""
from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.count = 0
        self.recipients: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


def build(app, watchers: int):
    from sqlalchemy import insert, select

    from forum.extensions import db
    from forum.models import Membership, NotificationSetting, User, Watch, utcnow
    from forum.services import accounts, clusters, posting

    class System:
        id = None
        is_admin = True
        is_member = True
        cluster_ids = managed_cluster_ids = writable_cluster_ids = frozenset()

    cluster = clusters.create_cluster(System(), "Bench-Cluster")
    board = clusters.create_board(System(), cluster, "Bench-Brett")
    author = accounts.create_user("bench.autor", "autor@bench.invalid", "bench-passwort-1")
    poster = accounts.create_user("bench.antwort", "antwort@bench.invalid", "bench-passwort-1")
    for person in (author, poster):
        clusters.add_member(System(), cluster, person)
    now = utcnow()
    db.session.execute(insert(User), [
        {"username": f"beobachter{n}", "email": f"beobachter{n}@bench.invalid", "display_name": f"Beobachter {n}",
         "password_hash": "", "created_at": now} for n in range(watchers)])
    db.session.commit()
    ids = list(db.session.scalars(select(User.id).where(User.username.like("beobachter%"))))
    db.session.execute(insert(Membership), [{"user_id": i, "cluster_id": cluster.id, "joined_at": now} for i in ids])
    thread = posting.create_thread(author, board, "Wer kennt einen guten Steuerberater?", "Für Handwerksbetriebe.")
    db.session.execute(insert(Watch), [{"user_id": i, "target_type": "thread", "target_id": thread.id,
                                        "level": "watching", "created_at": now} for i in ids])
    # Every watcher wants each new post at once, so each reply means `watchers` mails.
    db.session.execute(insert(NotificationSetting), [{"user_id": i, "category": "watched", "mode": "immediate"}
                                                     for i in ids])
    db.session.commit()
    return thread.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    from forum import create_app
    from forum.extensions import db
    from forum.services import mailer

    workdir = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    os.environ.setdefault("FORUM_INSTANCE_DIR", str(workdir / "instance"))
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
        "SEARCH_DIR": str(workdir / "search"), "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
        "SERVER_NAME": "bench.invalid", "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1,
    })
    request_ms: list[float] = []
    worker_s: list[float] = []
    try:
        with app.app_context():
            db.drop_all()
            db.create_all()
            from forum.services import clusters
            clusters.ensure_themenfelder()
            thread_id = build(app, args.watchers)
            dialect = db.engine.dialect.name
        client = app.test_client()  # each request gets its own app context, as in production
        client.post("/login", data={"login": "bench.antwort", "password": "bench-passwort-1"})
        for n in range(args.rounds):
            sent_before = inbox.count
            started = time.perf_counter()
            response = client.post(f"/t/{thread_id}/antworten", data={"body": f"Antwort Nummer {n}: fragt die Kammer."})
            request_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 302, response.status_code
            assert inbox.count == sent_before, "im Request wurde eine Mail versendet"
            with app.app_context():
                started = time.perf_counter()
                totals = mailer.run_once()
                worker_s.append(time.perf_counter() - started)
            assert totals["sent"] >= args.watchers, totals
    finally:
        controller.stop()

    expected = args.watchers * args.rounds
    # The thread's author also gets each reply ("reply", mailed at once by default).
    inbox.recipients = [r for r in inbox.recipients if r.startswith("beobachter")]
    per_person: dict[str, int] = {}
    for address in inbox.recipients:
        per_person[address] = per_person.get(address, 0) + 1
    duplicates = sum(1 for count in per_person.values() if count != args.rounds) if per_person else 0
    rows = [
        ("Antwort-Request (Benachrichtigungen schreiben), ms", percentile(request_ms, 0.5),
         percentile(request_ms, 0.95)),
        (f"Worker: {args.watchers} Mails einreihen + senden, s", percentile(worker_s, 0.5), percentile(worker_s, 0.95)),
        ("Worker: je Mail, ms", percentile(worker_s, 0.5) * 1000 / args.watchers,
         percentile(worker_s, 0.95) * 1000 / args.watchers),
    ]
    print(f"Korpus: 1 Thema, {args.watchers} Beobachter, {args.rounds} Antworten → {expected} Mails "
          f"(empfangen von Beobachtern: {len(inbox.recipients)}; Datenbank: {dialect})")
    print(f"Maschine: nproc={os.cpu_count()}, Python {platform.python_version()}, {platform.machine()}, "
          f"{platform.system()} {platform.release()}")
    print()
    width = max(len(r[0]) for r in rows)
    print(f"{'Messung'.ljust(width)} | {'p50':>9} | {'p95':>9}")
    print(f"{'-' * width}-+-{'-' * 9}-+-{'-' * 9}")
    for name, p50, p95 in rows:
        print(f"{name.ljust(width)} | {p50:9.2f} | {p95:9.2f}")
    if len(inbox.recipients) != expected or duplicates:
        print(f"FEHLER: {len(inbox.recipients)} Mails statt {expected}", file=sys.stderr)
        sys.exit(1)
    print(f"\nMittelwert Request: {statistics.mean(request_ms):.2f} ms; keine Mail im Request; jede Mail genau einmal.")


if __name__ == "__main__":
    main()

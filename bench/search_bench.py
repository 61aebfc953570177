"""Search benchmark: corpus → import → full reindex → query latency → one new post.

    .venv/bin/python bench/search_bench.py                  # 10k and 100k posts
    .venv/bin/python bench/search_bench.py --sizes 10000    # only 10k
    .venv/bin/python bench/search_bench.py --reuse          # keep imported instances of an earlier run
    .venv/bin/python bench/search_bench.py --sizes 10000 --backend whoosh,postgres \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/forum_bench

For each size it generates a corpus with ``../shared/bench/make_corpus.py`` (10 posts per
thread on average), imports it with ``flask forum import`` into a fresh SQLite instance under
``bench/out/`` (git-ignored), times ``flask search reindex``, measures the index size, runs a
fixed mixed query list through ``forum.search.service`` (the API's path) as a signed-in
member, and times indexing one new post (``forum.services.posting.reply``, then the drain).
It prints a table with the corpus size and the machine.

``--backend`` names the search backends to measure (``whoosh``, ``postgres`` or both, on the
same data). With ``--pg-url`` the instance's database is PostgreSQL — a database
``<name>_bench_<size>k`` on that server, kept for ``--reuse`` — which ``postgres`` needs.
"""
from __future__ import annotations

import argparse
import datetime as dt
import resource
import time
from pathlib import Path

import common

ROUNDS = 5          # each query runs this often (after one warm-up run)
ONE_MILLION_NOTE = ("1M posts: --sizes 1000000 (generating and importing a million posts takes about 30 minutes, "
                    "the rebuild about 10; --reuse --keep-index searches an instance built before).")

# (class, query, extra parameters); the filters are filled in from the member's clusters.
QUERIES: list[tuple[str, str, dict]] = [
    ("single", "Wärmepumpe", {}), ("single", "Azubi", {}), ("single", "Förderung", {}),
    ("single", "Kunden", {}), ("single", "Dämmung", {}), ("single", "Betriebe", {}),
    ("single", "waermepumpe", {}), ("single", "Photovoltaik", {}),
    ("compound", "Wärmepumpenförderung", {}), ("compound", "Kellerdeckendämmung", {}),
    ("compound", "Ausbildungsvergütung", {}), ("compound", "Pumpe", {}),
    ("compound", "Photovoltaikanlage", {}), ("compound", "Heizungstausch", {}),
    ("phrase", '"hydraulischen Abgleich"', {}), ("phrase", '"Wärmepumpe im Altbau"', {}),
    ("phrase", '"digitale Zeiterfassung"', {}),
    ("words", "Nachfolger für meinen Betrieb finden", {}),
    ("words", "Wie viel kostet eine Wärmepumpe im Altbau mit Förderung", {}),
    ("words", "Azubi Berufsschule Prüfung", {}),
    ("filtered", "Wärmepumpe", {"cluster": True}), ("filtered", "Förderung", {"board": True}),
    ("filtered", "Kunden", {"tag": "angebot"}), ("filtered", "Azubi", {"from": "2023-06-01", "to": "2023-12-31"}),
    ("filtered", "Dämmung", {"sort": "newest"}),
    ("typo", "Wärmepume", {}), ("typo", "Nachfolgr", {}), ("typo", "Photovoltaig", {}),
    ("prefix", "Wärme*", {}), ("prefix", "Förder*", {}), ("prefix", "Azu*", {}),
    ("exclusion", "Wärmepumpe -Altbau", {}), ("exclusion", 'Förderung -"Photovoltaik"', {}),
]


def corpus(posts: int) -> Path:
    path = common.OUT / f"corpus-{posts // 1000}k.jsonl"
    if not path.exists():
        threads = posts // 10
        common.run([common.PYTHON, str(common.MAKE_CORPUS), "--threads", str(threads), "--posts-per-thread", "10",
                    "--users", str(max(500, threads // 5)), "--clusters", "8", "--boards-per-cluster", "6",
                    "--seed", "1", "--out", str(path)])
    return path


def _has_posts(database: str) -> bool:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text("SELECT count(*) FROM posts")))
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def prepare(posts: int, reuse: bool, pg_url: str | None = None) -> tuple[Path, str | None]:
    """The instance folder (and PostgreSQL database) with the corpus imported."""
    name = f"inst-{posts // 1000}k" + ("-pg" if pg_url else "")
    directory = common.OUT / name
    database = common.pg_database(pg_url, f"bench_{posts // 1000}k", create=False) if pg_url else None
    if reuse and (_has_posts(database) if database else (directory / "forum.db").exists()):
        return directory, database
    if database:
        common.pg_database(pg_url, f"bench_{posts // 1000}k")
    env = common.fresh_instance(directory, database)
    common.import_corpus(env, corpus(posts))
    return directory, database


def _member():
    """A member of several clusters (a realistic, not a trivial, permission restriction)."""
    from sqlalchemy import func, select

    from forum.extensions import db
    from forum.models import Membership, User

    user_id = db.session.execute(
        select(Membership.user_id).group_by(Membership.user_id)
        .order_by(func.count().desc(), Membership.user_id).limit(1)
    ).scalar_one()
    return db.session.get(User, user_id)


def measure(directory: Path, database: str | None = None, backend: str = "whoosh") -> dict:
    from sqlalchemy import func, select

    from forum.extensions import db
    from forum.models import Board, Cluster, Post, Thread
    from forum.search import service
    from forum.services import posting

    with common.app_for(directory, database, backend):
        member = _member()
        cluster_id = sorted(member.cluster_ids)[0]
        slug = db.session.scalar(select(Cluster.slug).where(Cluster.id == cluster_id))
        board = db.session.scalar(select(Board.id).where(Board.cluster_id == cluster_id).order_by(Board.id).limit(1))
        posts = db.session.scalar(select(func.count(Post.id)))
        service.ensure_ready()
        latencies: dict[str, list[float]] = {}
        totals: dict[str, int] = {}
        for _round in range(ROUNDS + 1):
            for kind, text, extra in QUERIES:
                args = {"q": text, **{k: v for k, v in extra.items() if isinstance(v, str)}}
                if extra.get("cluster"):
                    args["cluster"] = slug
                if extra.get("board"):
                    args["board"] = str(board)
                started = time.perf_counter()
                page = service.search(member, service.parse_params(args))
                elapsed = (time.perf_counter() - started) * 1000
                db.session.rollback()
                if _round:
                    latencies.setdefault(kind, []).append(elapsed)
                    latencies.setdefault("all", []).append(elapsed)
                totals[text + repr(extra)] = page.total
        thread = db.session.scalars(select(Thread).where(Thread.board_id == board).order_by(Thread.id).limit(1)).one()
        word = f"Benchmarkwort{int(time.time())}"
        started = time.perf_counter()
        posting.reply(member, thread, f"Neuer Beitrag mit {word} zur Wärmepumpe.")
        service.drain(wait=10.0)
        index_ms = (time.perf_counter() - started) * 1000
        found = service.search(member, service.parse_params({"q": word})).total
        db.session.remove()
        db.engine.dispose()
    # the peak resident memory of this process: the app and the search caches after all queries,
    # what one gunicorn worker holds once it has served these searches
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"posts": posts, "latencies": latencies, "index_ms": index_ms, "new_post_found": found == 1,
            "rss_mb": rss_mb,
            "zero_hits": sorted(k for k, v in totals.items() if v == 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="posts per corpus, comma-separated")
    parser.add_argument("--reuse", action="store_true", help="reuse imported instances in bench/out/")
    parser.add_argument("--backend", default="whoosh", help="search backends, comma-separated: whoosh, postgres")
    parser.add_argument("--keep-index", action="store_true",
                        help="with --reuse: search the index an earlier run built instead of timing a rebuild")
    parser.add_argument("--pg-url", default=None,
                        help="PostgreSQL server for the instances (postgresql+psycopg://user@host:port/prefix); "
                             "needed for --backend postgres")
    options = parser.parse_args()
    backends = [b.strip() for b in options.backend.split(",") if b.strip()]
    if "postgres" in backends and not options.pg_url:
        parser.error("--backend postgres needs --pg-url")
    common.OUT.mkdir(parents=True, exist_ok=True)
    rows, classes = [], []
    for size in (int(s) for s in options.sizes.split(",")):
        directory, database = prepare(size, options.reuse, options.pg_url)
        for backend in backends:
            env = common.instance_env(directory, database, backend)
            seconds = None if options.reuse and options.keep_index else common.reindex(env)
            size_mb = common.index_size(env) / 1e6
            result = measure(directory, database, backend)
            lat = result["latencies"]
            rows.append([f"{result['posts']:,}", backend, "kept" if seconds is None else f"{seconds:.1f}",
                         f"{size_mb:.0f}",
                         f"{common.percentile(lat['all'], 0.5):.1f}", f"{common.percentile(lat['all'], 0.95):.1f}",
                         f"{result['index_ms']:.0f}", "yes" if result["new_post_found"] else "NO",
                         f"{result['rss_mb']:.0f}"])
            for kind in dict.fromkeys(k for k, _q, _e in QUERIES):
                classes.append([f"{result['posts']:,}", backend, kind, len(lat[kind]) // ROUNDS,
                                f"{common.percentile(lat[kind], 0.5):.1f}",
                                f"{common.percentile(lat[kind], 0.95):.1f}"])
            if result["zero_hits"]:
                print(f"queries without hits at {result['posts']:,} posts ({backend}): "
                      f"{', '.join(result['zero_hits'])}")
    print(f"\nSearch benchmark, {dt.datetime.now():%Y-%m-%d %H:%M} — {common.machine()}")
    print(f"{len(QUERIES)} queries × {ROUNDS} rounds as a signed-in member, through forum.search.service\n")
    print(f"database: {'PostgreSQL' if options.pg_url else 'SQLite'}\n")
    print(common.table(["posts", "backend", "reindex s", "index MB", "p50 ms", "p95 ms", "new post ms",
                        "new post found", "max RSS MB"], rows))
    print()
    print(common.table(["posts", "backend", "query class", "queries", "p50 ms", "p95 ms"], classes))
    print(f"\n{ONE_MILLION_NOTE}")


if __name__ == "__main__":
    main()

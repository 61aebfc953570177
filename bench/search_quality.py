"""Search quality on two German sets with human relevance judgments.

    .venv/bin/python bench/search_quality.py                 # both sets
    .venv/bin/python bench/search_quality.py --sets xquad-de
    .venv/bin/python bench/search_quality.py --backend whoosh,postgres \
        --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/forum_bench

For each set in ``../shared/data/`` (read its SOURCE.md: the data stays there, nothing is
copied into the repository) it writes a corpus file (``../shared/bench/FORMAT.md``) into a
temporary folder — one cluster, one board, one user; one thread per document, titled with
the document's title or its first words (at most 120 characters); a text longer than the
forum's post limit continues in replies — imports it with ``flask forum import`` into a
fresh instance, rebuilds the index, and runs every query through ``forum.search.service``
(the API's path) as typed and as typed on a phone without umlauts (ä→ae, ö→oe, ü→ue, ß→ss,
lower case). It reports Recall@10 and MRR@10 at thread level, beside a baseline: plain
Whoosh with its default ``StemmingAnalyzer`` and all words required (``QueryParser``'s
default AND), built in the same temporary folder.

``--backend`` names the search backends to compare (``whoosh``, ``postgres`` or both); with
``--pg-url`` the instance's database is PostgreSQL — a database ``<name>_quality_<set>`` on
that server, created fresh and dropped afterwards — which ``postgres`` needs. Both backends
then search the same imported data.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import tempfile
import time
from pathlib import Path

import common

DATA = common.SHARED / "data"
SETS = ("xquad-de", "legalquad-de")
TITLE_MAX = 120
POST_MAX = 49_000          # below the forum's 50,000-character post limit
K = 10
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")  # the forum refuses these
_PHONE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})


def phone(text: str) -> str:
    return text.translate(_PHONE).lower()


def read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _title(doc: dict) -> str:
    title = (doc.get("title") or "").strip() or " ".join(doc["text"].split()[:20])
    if len(title) > TITLE_MAX:
        title = title[:TITLE_MAX].rsplit(" ", 1)[0]
    return title


def _pieces(text: str) -> list[str]:
    """The text in posts of at most ``POST_MAX`` characters, cut at a space."""
    pieces = []
    while len(text) > POST_MAX:
        cut = text.rfind(" ", 0, POST_MAX)
        cut = cut if cut > 0 else POST_MAX
        pieces.append(text[:cut].strip())
        text = text[cut:]
    pieces.append(text.strip())
    return [p for p in pieces if p]


def write_corpus(docs: list[dict], path: Path) -> dict[int, str]:
    """Writes the corpus file; returns corpus thread id → document id."""
    when = "2024-01-01T10:00:00Z"
    threads: dict[int, str] = {}
    post_id = 0
    with path.open("w", encoding="utf-8") as out:
        def line(record: dict) -> None:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        line({"kind": "user", "id": 1, "username": "leser", "email": "leser@example.org", "display_name": "Leser",
              "trade": "Tischler", "company": "Tischlerei Leser", "region": "Münsterland"})
        line({"kind": "cluster", "id": 1, "name": "Qualität", "slug": "qualitaet", "description": "Testdaten.",
              "manager_ids": [1], "member_ids": [1]})
        line({"kind": "board", "id": 1, "cluster_id": 1, "name": "Dokumente", "slug": "dokumente", "description": ""})
        for thread_id, doc in enumerate(docs, 1):
            threads[thread_id] = doc["id"]
            line({"kind": "thread", "id": thread_id, "board_id": 1, "author_id": 1, "title": _title(doc),
                  "created_at": when, "tags": []})
            first = None
            for piece in _pieces(_CONTROL.sub(" ", doc["text"])):
                post_id += 1
                line({"kind": "post", "id": post_id, "thread_id": thread_id, "author_id": 1, "parent_id": first,
                      "body_markdown": piece, "created_at": when})
                first = first or post_id
    return threads


def metrics(ranked: list[list[str]], relevant: list[set[str]]) -> tuple[float, float]:
    recall = mrr = 0.0
    for found, wanted in zip(ranked, relevant, strict=True):
        top = found[:K]
        recall += len(wanted.intersection(top)) / len(wanted)
        mrr += next((1 / rank for rank, doc in enumerate(top, 1) if doc in wanted), 0.0)
    return recall / len(ranked), mrr / len(ranked)


def forum_run(directory: Path, threads: dict[int, str], queries: list[str], database: str | None = None,
              backend: str = "whoosh") -> tuple[list[list[str]], list[float]]:
    """The top threads (as document ids) for each query, and each query's milliseconds."""
    from sqlalchemy import select

    from forum.extensions import db
    from forum.models import ImportRecord, User
    from forum.search import service

    with common.app_for(directory, database, backend):
        local = dict(db.session.execute(select(ImportRecord.local_id, ImportRecord.corpus_id)
                                        .where(ImportRecord.kind == "thread")).all())
        user = db.session.scalars(select(User).where(User.username == "leser")).one()
        service.ensure_ready()
        ranked, latencies = [], []
        for text in queries:
            started = time.perf_counter()
            page = service.search(user, service.parse_params({"q": text, "per_page": str(K)}))
            latencies.append((time.perf_counter() - started) * 1000)
            ranked.append([threads[local[item.thread_id]] for item in page.items])
        db.session.remove()
        db.engine.dispose()
        return ranked, latencies


def baseline_run(docs: list[dict], directory: Path, queries: list[str]) -> list[list[str]]:
    """Whoosh's defaults: StemmingAnalyzer, BM25F, QueryParser requiring every word (the
    question's words only, without punctuation, which the parser would read as syntax)."""
    from whoosh import index
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.qparser import MultifieldParser

    schema = Schema(id=ID(stored=True), title=TEXT(analyzer=StemmingAnalyzer()), body=TEXT(analyzer=StemmingAnalyzer()))
    directory.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(directory), schema)
    with ix.writer(limitmb=256) as writer:
        for doc in docs:
            writer.add_document(id=doc["id"], title=_title(doc), body=doc["text"])
    parser = MultifieldParser(["title", "body"], schema)
    ranked = []
    with ix.searcher() as searcher:
        for text in queries:
            try:
                words = " ".join(re.findall(r"\w+", text))   # no query syntax: "?" would be a wildcard
                hits = searcher.search(parser.parse(words), limit=K)
                ranked.append([hit["id"] for hit in hits])
            except Exception:  # a question the query syntax cannot parse finds nothing
                ranked.append([])
    return ranked


def evaluate(name: str, work: Path, backends: list[str], pg_url: str | None) -> list[list[object]]:
    docs, queries = read(DATA / name / "docs.jsonl"), read(DATA / name / "queries.jsonl")
    corpus = work / f"{name}.jsonl"
    threads = write_corpus(docs, corpus)
    directory = work / f"inst-{name}"
    database = common.pg_database(pg_url, f"quality_{name}") if pg_url else None
    env = common.fresh_instance(directory, database)
    common.import_corpus(env, corpus)
    relevant = [set(q["relevant"]) for q in queries]
    spellings = (("as typed", [q["query"] for q in queries]), ("phone", [phone(q["query"]) for q in queries]))
    baselines = {spelling: metrics(baseline_run(docs, work / f"baseline-{name}", texts), relevant)
                 for spelling, texts in spellings}
    rows = []
    try:
        for backend in backends:
            seconds = common.reindex(common.instance_env(directory, database, backend))
            for spelling, texts in spellings:
                ranked, latencies = forum_run(directory, threads, texts, database, backend)
                recall, mrr = metrics(ranked, relevant)
                base_recall, base_mrr = baselines[spelling]
                rows.append([name, len(docs), len(queries), backend, spelling, f"{mrr:.3f}", f"{recall:.3f}",
                             f"{base_mrr:.3f}", f"{base_recall:.3f}", f"{common.percentile(latencies, 0.5):.1f}",
                             f"{common.percentile(latencies, 0.95):.1f}"])
            print(f"{name}, {backend}: reindex {seconds:.1f} s", flush=True)
    finally:
        if database:
            common.drop_pg_database(database)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated names under ../shared/data/")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    parser.add_argument("--backend", default="whoosh", help="search backends, comma-separated: whoosh, postgres")
    parser.add_argument("--pg-url", default=None,
                        help="PostgreSQL server for the instances (postgresql+psycopg://user@host:port/prefix); "
                             "needed for --backend postgres")
    options = parser.parse_args()
    backends = [b.strip() for b in options.backend.split(",") if b.strip()]
    if "postgres" in backends and not options.pg_url:
        parser.error("--backend postgres needs --pg-url")
    work = Path(tempfile.mkdtemp(prefix="forum-quality-"))
    rows = []
    for name in options.sets.split(","):
        rows.extend(evaluate(name.strip(), work, backends, options.pg_url))
    database = "PostgreSQL" if options.pg_url else "SQLite"
    print(f"\nSearch quality, {dt.datetime.now():%Y-%m-%d %H:%M} — {common.machine()}")
    print(f"thread level, top {K}; database {database}; baseline = Whoosh StemmingAnalyzer, all words required\n")
    print(common.table(["set", "docs", "queries", "backend", "spelling", "MRR@10", "Recall@10", "baseline MRR@10",
                        "baseline Recall@10", "p50 ms", "p95 ms"], rows))
    if options.keep:
        print(f"\nfiles: {work}")
    else:
        common.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()

"""Index consistency: `search reindex`, `search check`, start-up repair, the outbox and
several processes writing at once."""
from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forum.models import SearchOutbox, utcnow
from forum.search import outbox, service
from forum.search.backend import PostDocument
from tests import factories


def index_dir(app) -> Path:
    return Path(app.config["SEARCH_DIR"])


def test_reindex_rebuilds_with_a_progress_bar(world, runner):
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "Suchindex neu aufgebaut: 3 Beiträge." in result.output
    assert "Indexieren" in result.output       # the progress bar's label
    assert service.search(world.outsider, service.Params(q="Wärmepumpe")).total == 1


def test_check_passes_on_a_fresh_index(world, runner):
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 0, result.output
    assert "stimmen überein" in result.output


def test_check_reports_missing_and_extra_posts(world, runner):
    service.drain()
    first = factories.first_post(world.thread_a)
    service.backend().update([], removed_posts=[first.id])
    ghost = PostDocument(post_id=99_999, thread_id=world.thread_a.id, board_id=world.board_a.id,
                         cluster_id=world.cluster_a.id, author_id=None, author="", title="Geist",
                         body="nie geschrieben", tags=[], created_at=utcnow(), is_first=False)
    service.backend().update([ghost])
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 1
    assert "1 Beiträge fehlen im Index" in result.output and str(first.id) in result.output
    assert "99999" in result.output
    assert runner.invoke(args=["search", "reindex"]).exit_code == 0
    assert runner.invoke(args=["search", "check"]).exit_code == 0


def test_check_reports_a_post_indexed_under_the_wrong_board(world, runner, db):
    service.drain()
    world.thread_a.board_id = world.platform_board.id     # moved without an outbox row: drift
    db.session.commit()
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 1 and "anderen Brett" in result.output


def test_outbox_rows_are_removed_once_applied(world, db):
    assert db.session.scalar(select(func.count(SearchOutbox.id))) > 0
    service.drain()
    assert db.session.scalar(select(func.count(SearchOutbox.id))) == 0


def test_a_drain_that_cannot_get_the_lock_leaves_the_rows(world, db, app):
    service.ensure_ready()
    factories.reply(world.thread_a, world.member, "Noch nicht im Index")
    with service.writer_lock() as locked:
        assert locked
        assert service.drain() == 0
    assert db.session.scalar(select(func.count(SearchOutbox.id))) > 0
    assert service.drain() > 0


def test_a_failed_index_commit_releases_the_writer_lock(world, db, app, monkeypatch):
    """Found by the API fuzzer: a Whoosh commit that raised kept the writer lock, so every later
    write of the process waited for it in vain and the index never caught up again."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Whoosh-Schreibsperre")
    from whoosh.writing import SegmentWriter

    from forum.search import whoosh_backend

    service.drain()
    monkeypatch.setattr(whoosh_backend, "WRITE_TIMEOUT", 0.0)   # without the fix: LockError at once
    factories.reply(world.thread_a, world.member, "Schornsteinfeger im Fehlerfall")

    def disk_full(self):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as failing:
        failing.setattr(SegmentWriter, "_finalize_segment", disk_full)
        with pytest.raises(OSError) as failure:   # kept, as a log handler keeps the traceback
            service.drain()
    assert service.drain() > 0
    assert failure.value.errno == 28
    assert service.search(world.member, service.Params(q="Schornsteinfeger")).total == 1


def test_missing_index_is_rebuilt_by_the_worker(world, app, client, runner):
    service.drain()
    if app.config["SEARCH_BACKEND"] == "postgres":
        service.backend().clean()              # the index tables emptied
    else:
        shutil.rmtree(index_dir(app))
    service._ready.clear()
    client.get("/healthz")                     # a request never rebuilds (Issue 20, point 1) …
    assert not service.backend().ready()
    runner.invoke(args=["forum", "worker", "--once"])   # … the worker does
    assert service.backend().ready()
    assert service.search(world.outsider, service.Params(q="Wärmepumpe")).total == 1


def test_corrupt_index_is_rebuilt_by_the_worker(world, app, client, runner):
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Whoosh-Dateien; der PostgreSQL-Index wird nur in Transaktionen geschrieben")
    service.drain()
    for path in index_dir(app).iterdir():
        if path.name.endswith(".toc") or path.suffix == ".seg":
            path.write_bytes(b"kaputt")
    service.backend()._forget()
    service._ready.clear()
    assert not service.backend().ready()
    client.get("/healthz")
    assert not service.backend().ready()
    runner.invoke(args=["forum", "worker", "--once"])
    assert service.search(world.outsider, service.Params(q="Wärmepumpe")).total == 1


def test_an_index_with_the_old_date_terms_is_rebuilt_by_the_worker(world, app, client, runner):
    """Indexes written before created_at became one term per post are rebuilt by themselves."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Whoosh-Schema")
    from whoosh import index as windex
    from whoosh.fields import DATETIME

    from forum.search import whoosh_backend

    service.drain()
    old = whoosh_backend.schema()
    old.remove("created_at")
    old.add("created_at", DATETIME(stored=True, sortable=True))   # Whoosh's eight precision steps
    shutil.rmtree(index_dir(app))
    index_dir(app).mkdir()
    windex.create_in(str(index_dir(app)), old)
    service.backend()._forget()
    service._ready.clear()
    assert not service.backend().ready()
    client.get("/healthz")
    assert not service.backend().ready()
    runner.invoke(args=["forum", "worker", "--once"])
    assert service.backend().ready()
    assert service.search(world.outsider, service.Params(q="Wärmepumpe")).total == 1


def test_a_small_rebuild_forks_no_process_and_the_rebuild_memory_is_configurable(world, app, monkeypatch):
    """Up to ``SMALL_REBUILD`` posts the rebuild runs in this process (starting Whoosh's
    subprocesses costs more); FORUM_SEARCH_REINDEX_MB reaches the backend."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Whoosh-Neuaufbau")
    from forum import create_app

    def no_fork(_process):
        raise AssertionError("Neuaufbau von drei Beiträgen hat einen Prozess gestartet")

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", no_fork)
    assert service.rebuild() == 3
    assert service.search(world.outsider, service.Params(q="Wärmepumpe")).total == 1
    assert service.backend().reindex_mb == 512
    monkeypatch.setenv("FORUM_SEARCH_REINDEX_MB", "64")
    other = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "SEARCH_DIR": str(index_dir(app).parent / "anderer_index")})
    with other.app_context():
        assert service.backend().reindex_mb == 64


def test_drains_merge_small_segments_but_never_a_large_one(world, app, monkeypatch):
    """Merging is slow Python: a drain (after a write request) merges only segments of at most
    ``MERGE_LIMIT`` posts; larger ones change only by a rebuild."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Whoosh-Segmente")
    from whoosh import index as windex

    from forum.search import whoosh_backend

    monkeypatch.setattr(whoosh_backend, "MERGE_LIMIT", 3)
    factories.thread(world.board_a, world.member, "Viertes Thema", "Lehrstelle frei")
    service.rebuild()

    def segments() -> dict[str, int]:
        toc = windex.open_dir(str(index_dir(app)))._read_toc()
        return {segment.segment_id(): segment.doc_count_all() for segment in toc.segments}

    (large, count), = segments().items()
    assert count == 4
    for n in range(8):
        factories.reply(world.thread_a, world.member, f"Antwort {n} zur Wärmepumpe")
        service.drain()
    after = segments()
    assert after[large] == 4                     # untouched
    assert 1 < len(after) < 9                    # the one-post segments were merged
    assert sum(after.values()) == 4 + 8
    assert service.search(world.member, service.Params(q="Wärmepumpe")).total == 1


def test_segment_columns_read_at_once_equal_whooshs_own_values(world, app):
    """Thread ids, dates and field lengths are read from the column files as arrays; they
    must be what Whoosh's per-document readers give, also for a post without any body word."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Whoosh-Spalten")
    import numpy as np
    from whoosh.util.times import datetime_to_long

    from forum.search.scoring import SegmentData

    factories.thread(world.board_a, world.member, "Nur Zeichen", "🙂 🙂")
    for n in range(12):
        factories.reply(world.thread_a, world.member, f"Antwort {n} " + "Wärmepumpe " * n)
    service.rebuild()
    searcher = service.backend()._searcher()
    for leaf, _offset in searcher.leaf_searchers():
        reader = leaf.reader()
        count = reader.doc_count_all()
        seg = SegmentData(reader)
        assert seg.threads.tolist() == [int(v) for v in reader.column_reader("thread_id")]
        assert seg.created.tolist() == [datetime_to_long(v) for v in reader.column_reader("created_at")]
        for field in ("title", "body"):
            expected = [reader.doc_field_length(d, field, 0) or 0 for d in range(count)]
            assert np.array_equal(seg.field_lengths(field, slice(None)), np.array(expected, dtype=np.float32)), field
            assert seg.lengths[field].dtype == np.uint8
        assert 0 in seg.field_lengths("body", slice(None)).tolist()   # the emoji post


def test_a_new_worker_reads_the_index_before_its_first_request(world, app, monkeypatch):
    """gunicorn's post_worker_init warms the search: the index opened and every segment's
    columns read, so the first search reads no column of its own."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Whoosh-Spalten")
    from types import SimpleNamespace

    from forum import gunicorn_conf
    from forum.search import scoring

    for n in range(3):
        factories.reply(world.thread_a, world.member, f"Antwort {n} zur Wärmepumpe")
    service.rebuild()
    engine = service.backend()
    engine._forget()                                  # as in a freshly forked worker
    assert engine._segments == {}
    gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=app))
    searcher = engine._searcher()
    assert ({leaf.reader().segment().segment_id() for leaf, _offset in searcher.leaf_searchers()}
            == set(engine._segments))
    read = []
    monkeypatch.setattr(scoring, "_read_int_column",
                        lambda *args: read.append(args) or pytest.fail("column read again"))
    assert service.search(world.member, service.Params(q="Wärmepumpe")).total == 1
    assert read == []


def test_warming_a_missing_or_broken_index_leaves_it_to_the_first_request(world, app, monkeypatch, caplog):
    """No index yet: the warm-up builds nothing (the first request's repair does). A failing
    warm-up is logged and never stops the worker."""
    whoosh = app.config["SEARCH_BACKEND"] != "postgres"
    if whoosh:
        shutil.rmtree(index_dir(app), ignore_errors=True)
        service.backend()._forget()
    assert service.warm_up() is False
    if whoosh:
        assert not index_dir(app).exists() or not any(index_dir(app).iterdir())
    service.rebuild()
    assert service.warm_up() is True
    monkeypatch.setattr(type(service.backend()), "warm_up", lambda self: 1 / 0)
    assert service.warm_up() is False
    assert "Vorwärmen fehlgeschlagen" in caplog.text


def test_positions_from_the_stored_text_equal_the_indexed_ones(world, app):
    """The proximity bonus reads the positions of short posts from their stored text; they must
    be the positions the index holds (stop words left out, spelling variants at one position)."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Whoosh-Positionen")
    from forum.search import analysis

    factories.reply(world.thread_a, world.member,
                    "Die Wärmepumpe im Altbau: Waermepumpe und Förderung, die Förderung der Wärmepumpe.")
    service.rebuild()
    terms = ["warmepump", "waermepump", "altbau", "forder"]
    wanted = {term: [index] for index, term in enumerate(terms)}
    searcher = service.backend()._searcher()
    checked = 0
    for leaf, _offset in searcher.leaf_searchers():
        reader = leaf.reader()
        indexed: dict[int, list[tuple[int, int]]] = {}
        for index, term in enumerate(terms):
            if (("body", term)) not in reader:
                continue
            matcher = reader.postings("body", term)
            while matcher.is_active():
                indexed.setdefault(matcher.id(), []).extend((p, index) for p in matcher.value_as("positions"))
                matcher.next()
        for d in range(reader.doc_count_all()):
            from_text = analysis.positions(reader.stored_fields(d)["body"], wanted)
            assert sorted(from_text) == sorted(indexed.get(d, [])), reader.stored_fields(d)["body"]
            checked += len(from_text)
    assert checked >= 6


def test_segments_are_written_as_separate_files(world, app):
    """No compound segment files: Whoosh would hold a copy of each in every worker's memory."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Whoosh-Dateien")
    factories.thread(world.board_a, world.member, "Noch ein Thema", "Lehrstelle für Anlagenmechaniker")
    service.drain()
    service.rebuild()
    files = [path.name for path in index_dir(app).iterdir()]
    assert any(name.endswith(".pst") for name in files)
    assert not any(name.endswith(".seg") for name in files)


def test_a_searcher_opened_before_a_merge_still_reads_its_segments(world, app, monkeypatch):
    """Separate segment files are opened lazily: the files a merge (here: a rebuild) replaced
    stay for a grace period, so a search that began just before does not fail, and go later."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        pytest.skip("Whoosh-Dateien")
    from forum.search import whoosh_backend

    service.drain()
    backend = service.backend()
    before = backend._open().refresh().searcher()
    old_files = {path.name for path in index_dir(app).iterdir() if path.suffix in (".pst", ".col")}
    service.rebuild()
    assert old_files <= {path.name for path in index_dir(app).iterdir()}    # retired, not deleted
    assert {before.stored_fields(d)["post_id"] for d in range(before.doc_count_all())}
    before.close()
    monkeypatch.setattr(whoosh_backend, "RETIRE_AFTER", 0.0)
    factories.thread(world.board_a, world.member, "Später", "Ein Beitrag, der einen Commit auslöst")
    service.drain()
    assert not old_files & {path.name for path in index_dir(app).iterdir()}


# -- several processes --------------------------------------------------------------------

def _writer_process(config: dict, thread_id: int, username: str, worker: int, count: int, errors) -> None:
    """One "gunicorn worker": posts replies and drains after each, like a write request."""
    from forum import create_app
    from forum.extensions import db
    from forum.models import Thread, User
    from forum.services import posting

    try:
        app = create_app(config)
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == username))
            thread = db.session.get(Thread, thread_id)
            for n in range(count):
                posting.reply(user, thread, f"Prozess {worker} Beitrag {n} Schornsteinfeger")
                service.drain()
    except Exception as error:  # reported to the parent, which fails the test
        errors.put(f"{worker}: {error!r}")


def test_concurrent_writers_in_several_processes_lose_no_update(world, app, db):
    service.drain()
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SEARCH_DIR", "SEARCH_BACKEND", "SECRET_KEY",
                                               "SERVER_NAME")}
    config.update(TESTING=True, RATELIMIT_ENABLED=False)
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    workers = [context.Process(target=_writer_process,
                               args=(config, world.thread_a.id, world.member.username, n, 8, errors))
               for n in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == [] and all(p.exitcode == 0 for p in workers)
    drift = service.check()
    assert drift.clean, drift
    assert service.search(world.member, service.Params(q="Schornsteinfeger")).total == 1
    indexed = service.backend().indexed()
    assert len(indexed) == outbox.count_indexable(db.session)

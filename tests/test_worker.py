"""The worker (``flask forum worker``) and what stays in requests (Issue 20, point 1).

Slow work runs out of requests: the search outbox drain, a rebuild of a missing or broken
index, the mail queue and the generic job queue (``forum.jobs``). A request indexes only its
own writes, never rebuilds, and search answers from whatever index exists — never a 500.
"""
from __future__ import annotations

import datetime as dt
import shutil
import threading
from pathlib import Path

from sqlalchemy import func, select

from forum import jobs
from forum.extensions import db as _db
from forum.jobs import queue
from forum.jobs.worker import Worker
from forum.models import Job, MailQueue, SearchOutbox, User, utcnow
from forum.search import service
from tests import factories
from tests.test_corpus import corpus_file  # noqa: F401 - the small corpus fixture

_runs: list[dict] = []


@jobs.register("test.record")
def _record(payload: dict) -> None:
    _runs.append(payload)


@jobs.register("test.broken")
def _broken(payload: dict) -> None:
    raise ValueError("Testfehler: Datei nicht lesbar")


def _worker_once(runner) -> str:
    result = runner.invoke(args=["forum", "worker", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def _pending_outbox(db) -> set[int]:
    return set(db.session.scalars(select(SearchOutbox.id)))


def _index_dir(app) -> Path:
    return Path(app.config["SEARCH_DIR"])


def _remove_index(app) -> None:
    if app.config["SEARCH_BACKEND"] == "postgres":
        service.backend().clean()
    else:
        shutil.rmtree(_index_dir(app))
        service.backend()._forget()
    service._ready.clear()


# -- the job queue -----------------------------------------------------------------------------

def test_a_job_is_run_by_exactly_one_of_two_concurrent_workers(app, db):
    for n in range(20):
        jobs.enqueue("test.record", {"n": n})
    db.session.commit()
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def work(name: str) -> None:
        with app.app_context():
            start.wait()
            while (job := queue.claim(f"worker-{name}")) is not None:
                claimed[name].append(job.id)
                queue.finish(job, f"worker-{name}")

    threads = [threading.Thread(target=work, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every = claimed["a"] + claimed["b"]
    assert len(every) == 20 and len(set(every)) == 20      # each job once, none twice
    assert db.session.scalar(select(func.count(Job.id)).where(Job.state == "done")) == 20


def test_a_failing_job_is_retried_with_backoff_and_keeps_its_error(app, db):
    job = jobs.enqueue("test.broken", {"file": "bericht.pdf"})
    db.session.commit()
    now = utcnow()
    worker = Worker(echo=lambda _text: None)
    worker._jobs({"jobs": 0, "failed": 0})
    db.session.expire_all()
    row = db.session.get(Job, job.id)
    assert row.state == "pending" and row.attempts == 1
    assert "Testfehler: Datei nicht lesbar" in row.error
    assert row.run_after >= now + queue.FIRST_RETRY - dt.timedelta(seconds=1)   # not again at once
    assert queue.claim("someone", now) is None
    # the second failure waits twice as long; after MAX_ATTEMPTS the job is given up
    assert queue.backoff(2) == 2 * queue.backoff(1)
    for attempt in range(2, queue.MAX_ATTEMPTS + 1):
        claimed = queue.claim("w", row.run_after + dt.timedelta(seconds=1))
        assert claimed is not None and claimed.attempts == attempt
        state = queue.fail(claimed, "w", "ValueError: immer noch kaputt", now=row.run_after)
        db.session.expire_all()
        row = db.session.get(Job, job.id)
    assert state == "failed" and row.state == "failed" and row.finished_at is not None
    assert row.error == "ValueError: immer noch kaputt"


def test_a_job_whose_worker_stopped_is_taken_again_after_its_lease(app, db):
    job = jobs.enqueue("test.record", {"n": 1})
    db.session.commit()
    assert queue.claim("stopped") is not None
    assert queue.claim("other") is None                                  # leased
    later = utcnow() + queue.LEASE + dt.timedelta(seconds=1)
    again = queue.claim("other", later)
    assert again is not None and again.id == job.id and again.attempts == 2


def test_worker_once_processes_outbox_mail_and_jobs(world, db, runner):
    """``forum worker --once``: one pass over every queue, then exits."""
    _runs.clear()
    service.drain()
    factories.reply(world.thread_a, world.member, "Ein Beitrag über Schieferdächer")
    mail = MailQueue(user_id=world.member.id, kind="immediate", dedupe_key="test:1", status="pending",
                     due_at=utcnow(), attempts=0, last_error="", created_at=utcnow())
    db.session.add(mail)
    jobs.enqueue("test.record", {"n": 7})
    db.session.commit()
    assert _pending_outbox(db)
    output = _worker_once(runner)
    db.session.expire_all()
    assert not _pending_outbox(db)
    assert service.search(world.member, service.Params(q="Schieferdächer")).total == 1
    assert db.session.get(MailQueue, mail.id).status != "pending"
    assert _runs == [{"n": 7}]
    assert "1 Aufträge erledigt" in output


# -- what stays in requests --------------------------------------------------------------------

def test_a_write_request_indexes_its_own_rows_and_leaves_the_others(world, db, login):
    service.drain()
    other = factories.reply(world.thread_a, world.manager, "Fremder Beitrag über Regenrinnen")
    others = _pending_outbox(db)
    assert others
    client = login(world.member)
    response = client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Eigener Beitrag über Dachluken"})
    assert response.status_code == 302
    db.session.expire_all()
    assert _pending_outbox(db) == others                   # someone else's rows: the worker's
    assert "1 Thema gefunden" in client.get("/search?q=Dachluken").get_data(as_text=True)
    assert service.search(world.member, service.Params(q="Regenrinnen")).total == 0
    service.drain()
    assert service.search(world.member, service.Params(q="Regenrinnen")).items[0].post_id == other.id


def test_no_request_rebuilds_a_missing_index(world, app, db, login, client, runner, api_token):
    service.drain()
    _remove_index(app)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["search"] == "unavailable" and "neu aufgebaut" in ready.get_json()["reason"]
    assert client.get("/healthz").status_code == 200
    member = login(world.member)
    page = member.get("/search?q=Azubis")
    assert page.status_code == 200
    assert "Die Suche wird gerade neu aufgebaut" in page.get_data(as_text=True)
    assert "Versuchen Sie andere" not in page.get_data(as_text=True)   # no advice to change the words
    api = client.get("/api/v1/search?q=Azubis", headers=api_token(world.member))
    assert api.status_code == 200 and api.get_json()["items"] == []
    assert member.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Während des Neuaufbaus"}).status_code == 302
    assert not service.backend().ready()                   # still missing: no request rebuilt it
    assert client.get("/readyz").status_code == 503
    _worker_once(runner)
    assert service.backend().ready()
    assert client.get("/readyz").status_code == 200
    assert "Azubis finden" in member.get("/search?q=Azubis").get_data(as_text=True)
    assert "1 Thema gefunden" in member.get("/search?q=Neuaufbaus").get_data(as_text=True)


def test_search_after_an_import_into_a_running_instance_never_fails(app, client, runner, login, api_token,
                                                                     corpus_file):  # noqa: F811
    """Issue 20, point 1: after ``forum import`` on a running instance whose index was built
    from an empty database, the next search answered 500 (``reader.segment()`` is None)."""
    admin = factories.user("chefin", admin=True)
    admin_id = admin.id
    _worker_once(runner)                                     # the running instance: an empty index
    web = login(admin)
    assert web.get("/search?q=Dach").status_code == 200
    result = runner.invoke(args=["forum", "import", str(corpus_file)])
    assert result.exit_code == 0, result.output
    admin = _db.session.get(User, admin_id)                  # the import starts its session afresh
    assert _db.session.scalar(select(func.count(Job.id)).where(Job.kind == "search.reindex",
                                                               Job.state == "pending")) == 1
    for q in ("Dach", "Heizung", "Ausbildung Betrieb"):
        assert web.get("/search", query_string={"q": q}).status_code == 200
        assert client.get("/api/v1/search", query_string={"q": q}, headers=api_token(admin)).status_code == 200
    _worker_once(runner)                                     # the worker runs the rebuild job
    assert _db.session.scalar(select(Job.state).where(Job.kind == "search.reindex")) == "done"
    assert service.check().clean


def test_a_search_over_several_segments_answers(world, db, login):
    """Several segments (one per drain) are read one by one; none makes a search fail."""
    service.drain()
    for n in range(3):
        factories.reply(world.thread_a, world.member, f"Beitrag {n} über Kupferdächer")
        service.drain()
    assert login(world.member).get("/search?q=Kupferdächer").status_code == 200


def test_an_idle_pass_costs_one_cheap_query_per_queue(world, runner, count_queries):
    """Issue 20, point 1: the worker polls every few seconds; with nothing to do a pass asks
    each queue (search outbox, mail, jobs) once and writes nothing."""
    worker = Worker(echo=lambda _text: None)
    worker.run_once()                                        # builds the index, drains, sends
    with count_queries() as counted:
        assert worker.run_once() == {"rebuilt": 0, "indexed": 0, "mails": 0, "jobs": 0, "failed": 0}
    statements = [s for s in counted.statements
                  if s.strip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE"))]
    assert len(statements) == 3, statements
    assert all(s.strip().upper().startswith("SELECT") for s in statements)

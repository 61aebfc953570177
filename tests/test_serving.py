"""Production serving: versioned static files with long caching, gzip, health endpoints."""
from __future__ import annotations

import gzip
import re


def test_static_urls_carry_a_content_version_and_are_cached_for_a_year(client, world, login):
    html = login(world.member).get("/").get_data(as_text=True)
    match = re.search(r'href="(/static/css/forum\.css\?v=[0-9a-f]{12})"', html)
    assert match, "stylesheet without version"
    response = client.get(match.group(1))
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["Cache-Control"] and "immutable" in response.headers["Cache-Control"]


def test_pages_are_gzipped_when_the_client_accepts_it(world, login):
    client = login(world.member)
    response = client.get(f"/t/{world.thread_a.id}", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("Content-Encoding") == "gzip"
    assert "Azubis finden" in gzip.decompress(response.data).decode()


def test_health_and_readiness(client, runner):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert runner.invoke(args=["forum", "worker", "--once"]).exit_code == 0   # builds the search index
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "database": "ok", "search": "ok"}


def test_readiness_fails_when_the_search_index_is_unreachable(client, monkeypatch):
    from forum.search import service

    class Broken:
        def ready(self):
            raise OSError("index folder gone")

    client.get("/healthz")  # the process has opened its index once, then loses it
    monkeypatch.setattr(service, "backend", lambda: Broken())
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "unavailable", "database": "ok", "search": "unavailable",
                                "reason": "Der Suchindex fehlt oder wird gerade vom Worker neu aufgebaut."}


def test_readiness_fails_when_the_database_is_unreachable(app, client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from forum.extensions import db

    def refuse(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", refuse)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["database"] == "unavailable"


def test_health_probe_of_a_signed_in_client_does_not_load_the_account(world, login, count_queries):
    client = login(world.member)
    client.get("/healthz")
    with count_queries() as counted:
        assert client.get("/healthz").status_code == 200
    assert counted.n == 0


def test_gunicorn_configuration_loads():
    from forum import gunicorn_conf

    assert gunicorn_conf.preload_app and gunicorn_conf.worker_class == "sync" and gunicorn_conf.timeout == 30
    assert '"status": "%(s)s"' in gunicorn_conf.access_log_format


def test_workers_are_forked_with_the_preloaded_app_frozen():
    """gunicorn's pre_fork hook freezes the master's objects: a worker's full garbage collection
    then skips them (the cause of an 80 ms p99 on every page)."""
    import gc

    from forum import gunicorn_conf

    try:
        gunicorn_conf.pre_fork(None, None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_the_master_compiles_every_template_once_before_forking(app):
    """Workers share the compiled templates instead of compiling them on their first requests."""
    import gc
    from types import SimpleNamespace

    from forum import gunicorn_conf

    server = SimpleNamespace(app=SimpleNamespace(wsgi=lambda: app))
    assert not any(key[1] == "threads/show.html" for key in app.jinja_env.cache)
    try:
        gunicorn_conf.when_ready(server)
        cached = {key[1] for key in app.jinja_env.cache}
        assert {"base.html", "threads/show.html", "clusters/board.html", "mail/notification.txt"} <= cached
        compiled = app.jinja_env.get_template("threads/show.html")
        gunicorn_conf.pre_fork(server, None)              # forking compiles nothing again
        assert app.jinja_env.get_template("threads/show.html") is compiled
    finally:
        gc.unfreeze()


def test_serving_does_not_load_the_migration_tools_but_the_flask_command_does(tmp_path):
    """Flask-Migrate brings alembic and mako (11 MB per worker); the app loads it only for the
    `flask` command, where `flask db upgrade` must keep working."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "FORUM_DATABASE_URL": f"sqlite:///{tmp_path / 'forum.db'}", "FORUM_SECRET_KEY": "x",
           "FORUM_INSTANCE_DIR": str(tmp_path), "FORUM_SEARCH_DIR": str(tmp_path / "idx")}
    env.pop("FLASK_RUN_FROM_CLI", None)
    served = subprocess.run([sys.executable, "-c", "import sys, app; print(sorted(m for m in ('alembic', 'mako', "
                             "'flask_migrate') if m in sys.modules))"], cwd=root, env=env, capture_output=True,
                            text=True, timeout=60, check=True)
    assert served.stdout.strip() == "[]"
    flask = [sys.executable, "-m", "flask", "--app", "app", "db"]
    subprocess.run([*flask, "upgrade"], cwd=root, env=env, capture_output=True, text=True, timeout=120, check=True)
    current = subprocess.run([*flask, "current"], cwd=root, env=env, capture_output=True, text=True, timeout=60,
                             check=True)
    assert "(head)" in current.stdout

"""gunicorn settings for production: ``gunicorn -c python:forum.gunicorn_conf app:app``.

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""
import gc
import json
import multiprocessing
import os

bind = os.environ.get("FORUM_BIND", "127.0.0.1:8000")
# Sync workers: the app is CPU-bound and short; two per core keeps latency low.
workers = int(os.environ.get("FORUM_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "sync"
timeout = 30            # a request that takes longer is a bug; the worker is restarted
graceful_timeout = 30
keepalive = 5
# Loading the app once in the master shares its memory between workers (copy-on-write);
# database connections are opened lazily per worker, so nothing is shared that must not be.
preload_app = True
# Recycle workers now and then (a safety net against slow leaks), with jitter so they don't
# restart together — rarely: a new worker starts with empty page and search caches, and at a
# thousand requests per second 5,000 requests meant a cold worker every few seconds.
max_requests = 50_000
max_requests_jitter = 5_000
forwarded_allow_ips = os.environ.get("FORUM_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket sits at one fixed path per user, so two forum instances on a
# machine would fight over it; nothing here uses it (set FORUM_CONTROL_SOCKET=1 to keep it).
control_socket_disable = os.environ.get("FORUM_CONTROL_SOCKET") != "1"

# One JSON object per request on stdout: easy to ship to any log system.
accesslog = "-"
access_log_format = json.dumps({
    "time": "%(t)s", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", "query": "%(q)s",
    "status": "%(s)s", "bytes": "%(B)s", "duration_ms": "%(M)s", "referer": "%(f)s", "agent": "%(a)s",
})
errorlog = "-"
loglevel = os.environ.get("FORUM_LOG_LEVEL", "info")


def when_ready(server) -> None:
    """In the master, once, before the first worker is forked: every template of the app (not
    of the libraries) is compiled here, so the workers share them instead of each compiling its
    own on its first requests (a new worker's first thread page: 125 → 63 ms; 13 ms once warm)."""
    app = server.app.wsgi()
    for name in app.jinja_env.list_templates():
        if name.endswith((".html", ".txt")):
            app.jinja_env.get_template(name)


def pre_fork(_server, _worker) -> None:
    """In the master, before each worker is forked: the preloaded app's objects (hundreds of
    thousands: Flask, SQLAlchemy, Whoosh, the catalogs, the compiled templates) move out of the
    cyclic garbage collector's reach. A full collection in a worker walked all of them — about
    80 ms, every few requests, which was the p99 of the pages — and wrote to their pages,
    un-sharing the workers' memory."""
    gc.collect()
    gc.freeze()


def post_worker_init(worker) -> None:
    """In each new worker, before its first request: open the search index and read its
    columns (``search.warm_up``). Workers are recycled (``max_requests``), and without this the
    first search after a recycle paid for opening the index on top of its own postings."""
    from forum.search import service as search

    app = getattr(worker, "wsgi", None)
    if hasattr(app, "app_context"):
        with app.app_context():
            search.warm_up()

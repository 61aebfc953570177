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


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["database"] == "ok"


def test_gunicorn_configuration_loads():
    from forum import gunicorn_conf

    assert gunicorn_conf.preload_app and gunicorn_conf.worker_class == "sync" and gunicorn_conf.timeout == 30
    assert '"status": "%(s)s"' in gunicorn_conf.access_log_format

"""A live server on 127.0.0.1 and Debian's Chromium driven by Playwright (no browser downloads)."""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from forum import create_app
from forum.extensions import db
from tests import factories
from tests.conftest import PG_URL, _reset_schema

CHROMIUM = os.environ.get("FORUM_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _require_chromium() -> None:
    missing = not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium ({CHROMIUM}) und Playwright werden unter CI=true gebraucht.")
        pytest.skip(f"Chromium ({CHROMIUM}) oder Playwright fehlt")


@pytest.fixture
def live_app(tmp_path):
    """The app served by a real HTTP server in a thread, with the `world` cast in its database."""
    _require_chromium()
    app = create_app({
        "SECRET_KEY": "e2e-secret",
        "SQLALCHEMY_DATABASE_URI": PG_URL or f"sqlite:///{tmp_path / 'e2e.db'}",
        "SEARCH_DIR": str(tmp_path / "search_index"),
        "RATELIMIT_ENABLED": False,
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1,
    })
    with app.app_context():
        _reset_schema()
        factories.seed_basics()
        world = factories.build_world()
        ids = {name: getattr(world, name).id for name in ("thread_a", "member", "manager")}
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}", ids
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def page():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        context = browser.new_context(locale="de-DE")
        context.set_default_timeout(15_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.js_errors = errors  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            browser.close()


def log_in(page, base: str, username: str, password: str = factories.PASSWORD) -> None:
    """Signs in through the log-in form and waits for the start page."""
    page.goto(f"{base}/login")
    page.get_by_label("Benutzername oder E-Mail").fill(username)
    page.get_by_label("Passwort").fill(password)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(f"{base}/")

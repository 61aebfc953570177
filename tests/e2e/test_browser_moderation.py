"""In Chromium: a manager locks a thread with a reason through the moderation page; the member
then sees the lock notice with that reason and no reply form."""
from __future__ import annotations

import re

import pytest

from tests import factories

pytestmark = pytest.mark.e2e


def _log_in(page, base, username):
    page.goto(f"{base}/login")
    page.get_by_label("Benutzername oder E-Mail").fill(username)
    page.get_by_label("Passwort").fill(factories.PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(f"{base}/")


def test_manager_locks_a_thread_and_the_member_sees_why(live_app, page):
    app, base, ids = live_app
    thread_url = f"{base}/t/{ids['thread_a']}"
    _log_in(page, base, "max.manager")
    page.goto(thread_url)
    page.get_by_role("link", name="Moderieren").first.click()
    page.wait_for_url(re.compile(r"/moderation$"))
    page.get_by_label("Grund der Sperre (wird im Thema angezeigt)").fill("Die Frage ist beantwortet.")
    page.get_by_role("button", name="Thema sperren").click()
    page.wait_for_url(thread_url)
    assert "Das Thema ist gesperrt." in page.locator(".flashes").inner_text()
    page.get_by_role("button", name="Abmelden").click()

    _log_in(page, base, "mia.member")
    page.goto(thread_url)
    notice = page.locator(".notice-warning", has_text="Dieses Thema ist gesperrt.")
    assert "Die Frage ist beantwortet." in notice.inner_text()
    assert page.locator("#antworten").count() == 0
    assert page.get_by_role("link", name="Moderieren").count() == 0
    assert page.js_errors == []

"""In Chromium, the manager's day: invite a business by e-mail, the invitee registers through
the link and lands in the cluster, then the manager locks a thread with a reason and the new
member sees why."""
from __future__ import annotations

import re

import pytest

from forum.extensions import db
from forum.models import Invitation, User
from forum.services import membership
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


def test_manager_invites_invitee_registers_manager_locks_thread(live_app, page):
    app, base, ids = live_app
    thread_url = f"{base}/t/{ids['thread_a']}"

    # 1. the manager invites an address through the web form
    log_in(page, base, "max.manager")
    page.get_by_role("link", name="Verwaltung").click()
    page.get_by_role("navigation", name="Clusterverwaltung").get_by_role("link", name="Einladungen").click()
    page.get_by_label("E-Mail-Adressen").fill("neue.kollegin@example.org")
    page.get_by_role("button", name="Einladungen verschicken").click()
    page.get_by_text("1 Einladung(en) verschickt").wait_for()
    assert page.locator("td", has_text="neue.kollegin@example.org").count() == 1
    with app.test_request_context(base_url=base):
        invitation = db.session.query(Invitation).filter_by(email="neue.kollegin@example.org").one()
        link = membership.invite_url(invitation)
        db.session.remove()

    # 2. the invitee registers through the link and lands in the cluster
    page.get_by_role("button", name="Abmelden").click()
    page.context.clear_cookies()
    page.goto(link)
    page.get_by_label("Benutzername").fill("neue.kollegin")
    page.get_by_label("Anzeigename").fill("Nele Neu")
    page.get_by_label("Betrieb").fill("Elektro Neu")
    page.get_by_label("Gewerk").fill("Elektroniker")
    page.get_by_label("Region").fill("Münsterland")
    page.get_by_label("Passwort", exact=True).fill("ganz-geheim-123")
    page.get_by_label("Passwort wiederholen").fill("ganz-geheim-123")
    page.get_by_role("button", name="Konto anlegen und beitreten").click()
    page.wait_for_url(re.compile(r"/c/cluster-muensterland$"))
    assert "Willkommen im Cluster" in page.locator(".flashes").inner_text()
    with app.app_context():
        user = db.session.query(User).filter_by(username="neue.kollegin").one()
        assert [m.cluster.slug for m in user.memberships] == ["cluster-muensterland"]
        db.session.remove()
    page.goto(thread_url)
    assert page.locator("#antworten").count() == 1  # may answer before the lock
    page.get_by_role("button", name="Abmelden").click()

    # 3. the manager locks the thread with a reason
    log_in(page, base, "max.manager")
    page.goto(thread_url)
    page.get_by_role("link", name="Moderieren").first.click()
    page.wait_for_url(re.compile(r"/moderation$"))
    page.get_by_label("Grund der Sperre (wird im Thema angezeigt)").fill("Die Frage ist beantwortet.")
    page.get_by_role("button", name="Thema sperren").click()
    page.wait_for_url(thread_url)
    assert "Das Thema ist gesperrt." in page.locator(".flashes").inner_text()
    page.get_by_role("button", name="Abmelden").click()

    # 4. the new member sees the lock and its reason, and no reply form
    log_in(page, base, "neue.kollegin", "ganz-geheim-123")
    page.goto(thread_url)
    notice = page.locator(".notice-warning", has_text="Dieses Thema ist gesperrt.")
    assert "Die Frage ist beantwortet." in notice.inner_text()
    assert page.locator("#antworten").count() == 0
    assert page.get_by_role("link", name="Moderieren").count() == 0
    assert page.js_errors == []

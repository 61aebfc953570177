"""In Chromium: a manager invites an address through the web form, the invitee opens the
link from the mail, registers, and lands in the cluster."""
from __future__ import annotations

import re

import pytest

from forum.extensions import db
from forum.models import Invitation, User
from forum.services import membership
from tests import factories

pytestmark = pytest.mark.e2e


def test_manager_invites_and_the_invitee_registers_into_the_cluster(live_app, page):
    app, base, ids = live_app
    page.goto(f"{base}/login")
    page.get_by_label("Benutzername oder E-Mail").fill("max.manager")
    page.get_by_label("Passwort").fill(factories.PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(f"{base}/")
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
    assert link.startswith(base)

    page.context.clear_cookies()
    page.goto(link)
    page.get_by_label("Benutzername").fill("neue.kollegin")
    page.get_by_label("Anzeigename").fill("Nele Neu")
    page.get_by_label("Betrieb").fill("Elektro Neu")
    page.get_by_label("Gewerk").fill("Elektriker")
    page.get_by_label("Region").fill("Münsterland")
    page.get_by_label("Passwort", exact=True).fill("ganz-geheim-123")
    page.get_by_label("Passwort wiederholen").fill("ganz-geheim-123")
    page.get_by_role("button", name="Konto anlegen und beitreten").click()
    page.wait_for_url(re.compile(r"/c/cluster-muensterland$"))
    assert "Willkommen im Cluster" in page.locator(".flashes").inner_text()
    assert page.get_by_role("heading", name="Cluster Münsterland").count() >= 1
    with app.app_context():
        user = db.session.query(User).filter_by(username="neue.kollegin").one()
        assert [m.cluster.slug for m in user.memberships] == ["cluster-muensterland"]
        db.session.remove()
    assert page.js_errors == []

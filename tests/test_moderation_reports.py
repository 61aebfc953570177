"""Reports from members, the managers' queue with its count in the navigation, resolving with
an action and a note, the reporter's in-app outcome — and the moderation log with filters."""
from __future__ import annotations

from sqlalchemy import select

from forum.models import ModerationLogEntry, Notification, Post, Report
from forum.services import moderation, reports
from tests import factories
from tests.test_openapi import spec_checked_client  # noqa: F401  (autouse fixture)

API = "/api/v1"


def test_member_reports_and_manager_resolves_by_hiding(client, world, login, db):
    post = factories.reply(world.thread_a, world.manager, "Interne Preisliste: …")
    login(world.member)
    assert client.get(f"/p/{post.id}/melden").status_code == 200
    missing = client.post(f"/p/{post.id}/melden", data={"reason": "sonstiges", "text": ""})
    assert missing.status_code == 400 and "Bitte beschreiben Sie" in missing.get_data(as_text=True)
    assert client.post(f"/p/{post.id}/melden", data={"reason": "vertraulich", "text": "Preise"}).status_code == 302
    again = client.post(f"/p/{post.id}/melden", data={"reason": "spam"})
    assert again.status_code == 400 and "bereits gemeldet" in again.get_data(as_text=True)
    assert client.get(f"/c/{world.cluster_a.slug}/meldungen").status_code == 403
    assert "Meldungen" not in client.get("/").get_data(as_text=True).split("</nav>", 1)[0].split("site-nav")[-1]
    report = db.session.scalar(select(Report))
    assert (report.reason, report.text, report.cluster_id) == ("vertraulich", "Preise", world.cluster_a.id)

    login(world.manager)
    nav = client.get("/").get_data(as_text=True)
    assert 'href="/moderation/meldungen"' in nav and 'badge-count">1<' in nav
    queue = client.get(f"/c/{world.cluster_a.slug}/meldungen").get_data(as_text=True)
    assert "Vertrauliche Information" in queue and f"/meldungen/{report.id}" in queue
    assert "Vertrauliche Information" in client.get("/moderation/meldungen").get_data(as_text=True)
    bad = client.post(f"/meldungen/{report.id}", data={"action": "verbrennen", "note": ""})
    assert bad.status_code == 400 and "Bitte wählen Sie eine Maßnahme" in bad.get_data(as_text=True)
    done = client.post(f"/meldungen/{report.id}", data={"action": "hide", "note": "Danke für den Hinweis"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Post, post.id).hidden_reason == "Danke für den Hinweis"
    report = db.session.get(Report, report.id)
    assert (report.state, report.action, report.resolved_by_id) == ("resolved", "hide", world.manager.id)
    outcome = db.session.scalar(select(Notification).where(Notification.kind == "report_outcome"))
    assert outcome.user_id == world.member.id and outcome.data["action"] == "hide"
    assert outcome.data["note"] == "Danke für den Hinweis"
    actions = [e.action for e in db.session.scalars(select(ModerationLogEntry).order_by(ModerationLogEntry.id))]
    assert actions == ["post.hide", "report.resolve"]
    again = client.post(f"/meldungen/{report.id}", data={"action": "keep", "note": ""})
    assert again.status_code == 400 and "bereits erledigt" in again.get_data(as_text=True)
    assert 'badge-count' not in client.get("/").get_data(as_text=True)


def test_report_workflow_through_the_api(app, client, world, api_token, db):
    post = factories.reply(world.thread_a, world.manager, "Spamlink")
    other = factories.member(world.cluster_a, factories.user("kai.kollege"))
    member = api_token(world.member)
    created = client.post(f"{API}/posts/{post.id}/reports", json={"reason": "spam"}, headers=member)
    assert created.status_code == 201 and created.get_json()["state"] == "open"
    free = client.post(f"{API}/posts/{post.id}/reports", json={"reason": "Das ist Werbung"}, headers=api_token(other))
    assert free.status_code == 201
    assert (free.get_json()["reason"], free.get_json()["text"]) == ("sonstiges", "Das ist Werbung")
    assert client.post(f"{API}/posts/{post.id}/reports", json={"reason": "spam"}, headers=member).status_code == 409
    assert client.post(f"{API}/posts/{post.id}/reports", json={"reason": ""}, headers=member).status_code == 400
    assert client.post(f"{API}/posts/{post.id}/reports", json={"reason": "spam"},
                       headers=api_token(world.outsider)).status_code == 404
    manager = api_token(world.manager)
    listed = client.get(f"{API}/clusters/{world.cluster_a.slug}/reports?state=open", headers=manager).get_json()
    assert listed["total"] == 2 and [r["reason"] for r in listed["items"]] == ["spam", "sonstiges"]
    assert client.get(f"{API}/clusters/{world.cluster_a.slug}/reports?state=kaputt", headers=manager).status_code == 400
    report_id = created.get_json()["id"]
    needs_note = client.post(f"{API}/reports/{report_id}/resolve", json={"action": "contact"}, headers=manager)
    assert needs_note.status_code == 400
    resolved = client.post(f"{API}/reports/{report_id}/resolve",
                           json={"action": "contact", "note": "Bitte keine Links"}, headers=manager)
    assert resolved.status_code == 200 and resolved.get_json()["action"] == "contact"
    assert client.post(f"{API}/reports/{report_id}/resolve", json={"action": "keep", "note": ""},
                       headers=manager).status_code == 409
    assert client.post(f"{API}/reports/999999/resolve", json={"action": "keep"}, headers=manager).status_code == 404
    kinds = sorted((n.kind, n.user_id) for n in db.session.scalars(select(Notification)))
    assert ("report_outcome", world.member.id) in kinds and ("report_outcome", other.id) in kinds
    assert ("moderation", world.manager.id) not in kinds  # nobody is notified about their own post's contact
    assert client.get(f"{API}/clusters/{world.cluster_a.slug}/reports?state=open",
                      headers=manager).get_json()["total"] == 0
    assert client.get(f"{API}/clusters/{world.cluster_a.slug}/reports",
                      headers=api_token(world.manager_b)).status_code == 404
    assert client.post(f"{API}/reports/{report_id}/resolve", json={"action": "keep"},
                       headers=api_token(world.manager_b)).status_code == 404


def test_nav_count_is_one_query_and_only_for_moderators(client, world, login, count_queries, db):
    post = factories.reply(world.thread_a, world.manager, "Text")
    reports.create_report(world.member, post, "spam")
    assert reports.open_count(world.member) == 0 and reports.open_count(world.manager_b) == 0
    assert reports.open_count(world.manager) == 1 and reports.open_count(world.admin) == 0
    login(world.manager)
    with count_queries() as counted:
        client.get("/")
    assert sum("FROM reports" in s for s in counted.statements) == 1
    login(world.member)
    with count_queries() as counted:
        client.get("/")
    assert not any("FROM reports" in s for s in counted.statements)


def test_platform_reports_go_to_the_admins(client, world, login, db):
    post = factories.reply(world.platform_thread, world.outsider, "Plattformweit")
    report = reports.create_report(world.member, post, "beleidigend")
    assert reports.open_count(world.admin) == 1 and reports.open_count(world.manager) == 0
    login(world.admin)
    assert "Beleidigend" in client.get("/moderation/meldungen").get_data(as_text=True)
    assert client.post(f"/meldungen/{report.id}", data={"action": "keep", "note": ""}).status_code == 302
    login(world.manager)
    assert client.get(f"/meldungen/{report.id}").status_code == 404


# -- the moderation log -------------------------------------------------------------------------

def _some_history(world):
    moderation.lock(world.manager, world.thread_a, "Streit")
    moderation.set_pinned(world.manager, world.thread_a, True)
    moderation.lock(world.manager_b, world.thread_b, "Anderer Cluster")


def test_log_page_filters_and_is_closed_to_members(client, world, login):
    _some_history(world)
    login(world.manager)
    page = client.get(f"/c/{world.cluster_a.slug}/protokoll").get_data(as_text=True)
    assert "Thema gesperrt" in page and "Streit" in page and "Anderer Cluster" not in page
    filtered = client.get(f"/c/{world.cluster_a.slug}/protokoll?aktion=thread.pin").get_data(as_text=True)
    assert "Thema angeheftet" in filtered and "Streit" not in filtered
    assert "1 Eintrag" in filtered
    assert client.get(f"/c/{world.cluster_a.slug}/protokoll?ab=gestern").status_code == 400
    login(world.member)
    assert client.get(f"/c/{world.cluster_a.slug}/protokoll").status_code == 403
    login(world.manager_b)
    assert client.get(f"/c/{world.cluster_a.slug}/protokoll").status_code == 404


def test_admin_who_is_no_member_sees_entries_but_no_content(client, world, login):
    _some_history(world)
    login(world.admin)
    page = client.get(f"/c/{world.cluster_a.slug}/protokoll").get_data(as_text=True)
    assert "Thema gesperrt" in page
    # neither what it touched nor why (issue 15, point 7): the reason may quote the content
    assert "Streit" not in page and "Azubis finden" not in page and f"/t/{world.thread_a.id}" not in page
    assert f"thread {world.thread_a.id}" not in page
    assert client.get("/moderation/protokoll").status_code == 200


def test_log_api_filters_paginates_and_hides_details_from_outside_admins(client, world, api_token):
    _some_history(world)
    manager = api_token(world.manager)
    url = f"{API}/clusters/{world.cluster_a.slug}/modlog"
    everything = client.get(url, headers=manager).get_json()
    assert [e["action"] for e in everything["items"]] == ["thread.pin", "thread.lock"]
    assert everything["items"][1]["details"]["title"] == "Azubis finden im Münsterland"
    assert client.get(f"{url}?action=thread.lock", headers=manager).get_json()["total"] == 1
    assert client.get(f"{url}?actor=max.manager", headers=manager).get_json()["total"] == 2
    assert client.get(f"{url}?actor=berta.manager", headers=manager).get_json()["total"] == 0
    assert client.get(f"{url}?from=2000-01-01&to=2000-01-02", headers=manager).get_json()["total"] == 0
    assert client.get(f"{url}?from=kaputt", headers=manager).status_code == 400
    page = client.get(f"{url}?per_page=1&page=2", headers=manager).get_json()
    assert page["total"] == 2 and [e["action"] for e in page["items"]] == ["thread.lock"]
    admin = client.get(url, headers=api_token(world.admin)).get_json()
    assert admin["total"] == 2 and all(e["details"] == {} for e in admin["items"])
    assert admin["items"][1]["reason"] == "" and admin["items"][1]["target_id"] is None   # issue 15, point 7
    assert client.get(url, headers=api_token(world.member)).status_code == 403
    assert client.get(url, headers=api_token(world.manager_b)).status_code == 404

"""Joining without an invitation: join requests of signed-in accounts, and the public
Mitmachen page with its expression of interest (honeypot, rate limit, queues)."""
from __future__ import annotations

import pytest

from forum import create_app
from forum.extensions import db as _db
from forum.models import InterestExpression, JoinRequest, Membership, Notification, RequestState
from forum.services import platform
from tests import factories, membership_factories

INTEREST = {"name": "Erika Muster", "company": "Malerbetrieb Muster", "trade": "Maler", "region": "Münsterland",
            "email": "erika@example.org", "topics": ["nachfolge", "digitalisierung"], "message": "Gern!"}


def test_mitmachen_lists_clusters_with_contact_and_topics_but_never_content(client, world):
    platform.update_cluster(factories.SYSTEM, world.cluster_a, {
        "name": world.cluster_a.name, "region": "Münsterland", "description": "Betriebe aus dem Münsterland.",
        "topics": ["nachfolge", "klima-und-energie"]})
    html = client.get("/mitmachen").get_data(as_text=True)
    section = html.split('id="cluster-cluster-muensterland"')[1].split("</li>")[0]
    assert "Betriebe aus dem Münsterland." in section and "Nachfolge" in section and "Klima &amp; Energie" in section
    assert "Max Manager" in section  # the manager's contact name
    for secret in ("Azubis finden im Münsterland", "Wie findet ihr Auszubildende?", "Nachwuchs gewinnen",
                   "Mia Member", "mia.member@example.org"):
        assert secret not in html


def test_expression_of_interest_lands_in_the_managers_and_admins_queue(client, world, login, db):
    response = client.post("/mitmachen", data={**INTEREST, "cluster": world.cluster_a.slug}, follow_redirects=True)
    assert "Vielen Dank" in response.get_data(as_text=True)
    row = db.session.query(InterestExpression).one()
    assert (row.cluster_id, row.company, row.topics) == (world.cluster_a.id, "Malerbetrieb Muster",
                                                         ["nachfolge", "digitalisierung"])
    login(world.manager)
    assert "Erika Muster" in client.get(f"/c/{world.cluster_a.slug}/verwaltung/anfragen").get_data(as_text=True)
    login(world.manager_b)
    assert client.get(f"/c/{world.cluster_a.slug}/verwaltung/anfragen").status_code == 404
    assert "Erika Muster" not in client.get(f"/c/{world.cluster_b.slug}/verwaltung/anfragen").get_data(as_text=True)
    login(world.admin)
    assert "Erika Muster" in client.get("/admin/interessenten").get_data(as_text=True)


def test_the_honeypot_swallows_bots(client, world, db):
    response = client.post("/mitmachen", data={**INTEREST, "website": "http://spam.example"}, follow_redirects=True)
    assert "Vielen Dank" in response.get_data(as_text=True)
    assert db.session.query(InterestExpression).count() == 0


def test_bad_interest_input_gets_german_messages(client, world, db):
    for change, message in (({"name": ""}, "Der Name darf nicht leer sein."),
                            ({"email": "kaputt"}, "Bitte geben Sie eine gültige E-Mail-Adresse an."),
                            ({"cluster": "gibt-es-nicht"}, "Diesen Cluster gibt es nicht.")):
        response = client.post("/mitmachen", data={**INTEREST, **change})
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.query(InterestExpression).count() == 0


def test_the_interest_form_is_rate_limited(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'limit.db'}",
                      "SEARCH_DIR": str(tmp_path / "idx"), "SERVER_NAME": "forum.test"})
    with app.app_context():
        _db.create_all()
        factories.seed_basics()
        client = app.test_client()
        answers = [client.post("/mitmachen", data={**INTEREST, "email": f"e{i}@example.org"}).status_code
                   for i in range(6)]
        assert answers[:5] == [302] * 5 and answers[5] == 429
        assert _db.session.query(InterestExpression).count() == 5
        _db.session.remove()
        _db.engine.dispose()


def test_accepting_an_interest_sends_the_invitation(client, world, login, db, smtp_server):
    interest = membership_factories.interest(world.cluster_a, "erika@example.org")
    login(world.manager)
    client.post(f"/c/{world.cluster_a.slug}/verwaltung/interessenten/{interest.id}/einladen")
    assert [m["To"] for m in smtp_server.messages] == ["erika@example.org"]
    assert db.session.get(InterestExpression, interest.id).state == RequestState.ACCEPTED
    again = client.post(f"/c/{world.cluster_a.slug}/verwaltung/interessenten/{interest.id}/einladen",
                        follow_redirects=True)
    assert "schon entschieden" in again.get_data(as_text=True)


def test_admin_picks_the_cluster_for_an_open_interest(client, world, login, db, smtp_server):
    interest = membership_factories.interest(None, "offen@example.org")
    login(world.manager)
    requests_page = client.get(f"/c/{world.cluster_a.slug}/verwaltung/anfragen").get_data(as_text=True)
    assert "offen@example.org" not in requests_page
    login(world.admin)
    missing = client.post(f"/admin/interessenten/{interest.id}/einladen", data={"cluster": ""}, follow_redirects=True)
    assert "Bitte wählen Sie den Cluster" in missing.get_data(as_text=True)
    client.post(f"/admin/interessenten/{interest.id}/einladen", data={"cluster": world.cluster_b.slug})
    assert smtp_server.messages[-1]["Subject"] == "Einladung in den Cluster „Cluster Ruhrgebiet“"


def test_join_request_approved_and_the_requester_is_told_in_app(client, world, login, db):
    login(world.outsider)
    page = client.get("/mitmachen").get_data(as_text=True)
    assert "Beitritt anfragen" in page
    client.post(f"/mitmachen/{world.cluster_a.slug}/anfragen", data={"message": "Wir sind Elektriker."})
    assert "Ihre Beitrittsanfrage liegt vor" in client.get("/mitmachen").get_data(as_text=True)
    twice = client.post(f"/mitmachen/{world.cluster_a.slug}/anfragen", follow_redirects=True)
    assert "schon vor" in twice.get_data(as_text=True)
    request_row = db.session.query(JoinRequest).one()
    login(world.manager)
    assert "Wir sind Elektriker." in client.get(f"/c/{world.cluster_a.slug}/verwaltung/anfragen").get_data(as_text=True)
    client.post(f"/c/{world.cluster_a.slug}/verwaltung/anfragen/{request_row.id}/annehmen")
    assert db.session.query(Membership).filter_by(user_id=world.outsider.id, cluster_id=world.cluster_a.id).count() == 1
    note = db.session.query(Notification).filter_by(user_id=world.outsider.id).one()
    assert (note.kind, note.data["outcome"]) == ("membership", "accepted")


def test_join_request_declined(client, world, login, db):
    row = membership_factories.join_request(world.cluster_a, world.loner)
    login(world.admin)
    client.post(f"/c/{world.cluster_a.slug}/verwaltung/anfragen/{row.id}/ablehnen")
    assert db.session.get(JoinRequest, row.id).state == RequestState.DECLINED
    assert db.session.query(Membership).filter_by(user_id=world.loner.id).count() == 0
    assert db.session.query(Notification).filter_by(user_id=world.loner.id).one().data["outcome"] == "declined"


@pytest.mark.parametrize("role", ["member", "manager_b", "outsider"])
def test_others_cannot_decide_join_requests(client, world, login, db, role):
    row = membership_factories.join_request(world.cluster_a, world.loner)
    login(getattr(world, role))
    assert client.post(f"/c/{world.cluster_a.slug}/verwaltung/anfragen/{row.id}/annehmen").status_code == 404
    assert db.session.get(JoinRequest, row.id).state == RequestState.OPEN

"""Solutions, the Best-Practice mark and page, and proposing a best practice for the
platform-wide board: every author consents in-app, one refusal ends it, a copy is published."""
from __future__ import annotations

from sqlalchemy import select

from forum.models import BestPracticeProposal, Board, Notification, Post, Thread
from forum.services import best_practice, moderation
from tests import factories
from tests.test_openapi import spec_checked_client  # noqa: F401  (autouse fixture)

API = "/api/v1"


def test_author_marks_a_solution_and_replaces_it(client, world, login, db):
    first = factories.reply(world.thread_a, world.manager, "Schulbesuche!")
    second = factories.reply(world.thread_a, world.manager, "Praktika!")
    login(world.member)
    assert "Als Lösung markieren" in client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert client.post(f"/t/{world.thread_a.id}/loesung", data={"post_id": str(first.id)}).status_code == 302
    assert client.post(f"/t/{world.thread_a.id}/loesung", data={"post_id": str(second.id)}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Thread, world.thread_a.id).solution_post_id == second.id
    html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert "Zur Lösung" in html and html.count('badge-solution">Lösung<') == 1
    opening = client.post(f"/t/{world.thread_a.id}/loesung", data={"post_id": str(world.thread_a.first_post_id)})
    assert opening.status_code == 302
    db.session.expire_all()
    assert db.session.get(Thread, world.thread_a.id).solution_post_id == second.id  # refused, flashed
    assert client.post(f"/t/{world.thread_a.id}/loesung", data={"post_id": ""}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Thread, world.thread_a.id).solution_post_id is None
    assert db.session.scalar(select(Notification).where(Notification.kind == "solution")).user_id == world.manager.id


def test_solution_through_the_api_and_who_may(client, world, api_token):
    reply = factories.reply(world.thread_a, world.manager, "Antwort")
    other = factories.member(world.cluster_a, factories.user("kai.kollege"))
    url = f"{API}/threads/{world.thread_a.id}/solution"
    assert client.post(url, json={"post_id": reply.id}, headers=api_token(other)).status_code == 403
    marked = client.post(url, json={"post_id": reply.id}, headers=api_token(world.manager))
    assert marked.status_code == 200 and marked.get_json()["solution_post_id"] == reply.id
    foreign = factories.reply(world.thread_b, world.outsider, "Anderswo")
    assert client.post(url, json={"post_id": foreign.id}, headers=api_token(world.member)).status_code == 400
    assert client.post(url, json={}, headers=api_token(world.member)).status_code == 400
    assert client.post(url, json={"post_id": None},
                       headers=api_token(world.member)).get_json()["solution_post_id"] is None


def test_solution_ids_beyond_the_database_are_refused(client, world, api_token, login, db):
    """Found by fuzzing: an id past the INTEGER column (or "²" in the form) reached the database: 500."""
    url = f"{API}/threads/{world.thread_a.id}/solution"
    for post_id in (2**63, 2**31, "²"):
        answer = client.post(url, json={"post_id": post_id}, headers=api_token(world.member))
        assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "validation", post_id
    login(world.member)
    page = client.post(f"/t/{world.thread_a.id}/loesung", data={"post_id": "²"})
    assert page.status_code == 302
    assert db.session.get(Thread, world.thread_a.id).solution_post_id is None


def test_best_practice_mark_and_cluster_page(client, world, login, db):
    login(world.manager)
    assert client.post(f"/t/{world.thread_a.id}/best-practice", data={"wert": "an"}).status_code == 302
    login(world.member)
    page = client.get(f"/c/{world.cluster_a.slug}/best-practice").get_data(as_text=True)
    assert "Azubis finden im Münsterland" in page
    assert client.post(f"/t/{world.thread_a.id}/best-practice", data={"wert": "aus"}).status_code == 403
    login(world.outsider)
    assert client.get(f"/c/{world.cluster_a.slug}/best-practice").status_code == 404


def _proposable(world):
    reply = factories.reply(world.thread_a, world.manager, "Wir gehen in die Schulen.")
    colleague = factories.member(world.cluster_a, factories.user("kai.kollege"))
    late = factories.reply(world.thread_a, colleague, "Wir auch!", parent=reply)
    hidden = factories.reply(world.thread_a, colleague, "Abseits")
    moderation.hide(world.manager, hidden, "Off-Topic")
    best_practice.set_best_practice(world.manager, world.thread_a, True)
    return reply, colleague, late, hidden


def test_proposal_is_published_as_a_copy_only_when_every_author_agrees(client, world, login, db):
    reply, colleague, late, hidden = _proposable(world)
    login(world.manager)
    response = client.post(f"/t/{world.thread_a.id}/vorschlagen",
                           data={"target_board_id": str(world.platform_board.id)})
    assert response.status_code == 302
    proposal = db.session.scalar(select(BestPracticeProposal))
    assert {c.user_id: c.state for c in proposal.consents} == {
        world.member.id: "pending", world.manager.id: "agreed", colleague.id: "pending"}
    assert hidden.id not in proposal.post_ids
    asked = {n.user_id for n in db.session.scalars(select(Notification).where(Notification.kind == "consent_request"))}
    assert asked == {world.member.id, colleague.id}
    login(world.member)
    page = client.get(f"/vorschlaege/{proposal.id}").get_data(as_text=True)
    assert "Ich stimme zu" in page
    assert client.post(f"/vorschlaege/{proposal.id}/entscheidung", data={"entscheidung": "ja"}).status_code == 302
    factories.reply(world.thread_a, world.member, "Nach dem Vorschlag geschrieben")
    login(colleague)
    assert client.post(f"/vorschlaege/{proposal.id}/entscheidung", data={"entscheidung": "ja"}).status_code == 302
    db.session.expire_all()
    proposal = db.session.get(BestPracticeProposal, proposal.id)
    assert proposal.state == "published"
    copy = db.session.get(Thread, proposal.published_thread_id)
    assert copy.board_id == world.platform_board.id and copy.is_best_practice and copy.reply_count == 2
    bodies = {p.body_markdown: p for p in db.session.scalars(select(Post).where(Post.thread_id == copy.id))}
    assert set(bodies) == {"Wie findet ihr Auszubildende?", "Wir gehen in die Schulen.", "Wir auch!"}
    assert bodies["Wir auch!"].depth == 2 and bodies["Wir auch!"].author_id == colleague.id
    assert db.session.get(Board, world.platform_board.id).thread_count == 2
    login(world.outsider)  # another cluster's member reads the copy, not the cluster
    assert "Wir auch!" in client.get(f"/t/{copy.id}").get_data(as_text=True)
    assert client.get(f"/t/{world.thread_a.id}").status_code == 404


def test_one_refusal_ends_the_proposal(client, world, api_token, db):
    _proposable(world)
    created = client.post(f"{API}/threads/{world.thread_a.id}/best-practice-proposals",
                          headers=api_token(world.manager))
    assert created.status_code == 201 and created.get_json()["state"] == "pending"
    proposal_id = created.get_json()["id"]
    again = client.post(f"{API}/threads/{world.thread_a.id}/best-practice-proposals", headers=api_token(world.manager))
    assert again.status_code == 409
    url = f"{API}/best-practice-proposals/{proposal_id}/consent"
    assert client.post(url, json={"agree": "ja"}, headers=api_token(world.member)).status_code == 400
    assert client.post(url, json={"agree": True}, headers=api_token(world.outsider)).status_code == 404
    refused = client.post(url, json={"agree": False}, headers=api_token(world.member))
    assert refused.status_code == 200 and refused.get_json()["state"] == "refused"
    assert client.post(url, json={"agree": True}, headers=api_token(world.member)).status_code == 409
    assert db.session.scalar(select(Thread).where(Thread.board_id == world.platform_board.id,
                                                  Thread.is_best_practice.is_(True))) is None
    outcome = db.session.scalar(select(Notification).where(Notification.kind == "best_practice"))
    assert outcome.user_id == world.manager.id and outcome.data["outcome"] == "refused"


def test_only_marked_cluster_threads_can_be_proposed(client, world, api_token):
    headers = api_token(world.manager)
    unmarked = client.post(f"{API}/threads/{world.thread_a.id}/best-practice-proposals", headers=headers)
    assert unmarked.status_code == 400
    assert client.post(f"{API}/threads/{world.thread_a.id}/best-practice-proposals",
                       headers=api_token(world.member)).status_code == 403
    marked = client.post(f"{API}/threads/{world.thread_a.id}/best-practice", headers=headers)
    assert marked.get_json()["is_best_practice"] is True
    assert client.post(f"{API}/threads/{world.thread_a.id}/best-practice-proposals",
                       json={"board_id": world.board_a.id},
                       headers=headers).status_code == 400
    assert client.delete(f"{API}/threads/{world.thread_a.id}/best-practice",
                         headers=headers).get_json()["is_best_practice"] is False

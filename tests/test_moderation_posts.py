"""Managers on posts: hide and unhide with a reason, edit and delete someone else's post —
every action in the moderation log, the author and managers still see hidden text."""
from __future__ import annotations

from sqlalchemy import select

from forum.models import ModerationLogEntry, Notification, Post, PostRevision
from tests import factories
from tests.test_openapi import spec_checked_client  # noqa: F401  (autouse fixture)

API = "/api/v1"


def _actions(db):
    return [e.action for e in db.session.scalars(select(ModerationLogEntry).order_by(ModerationLogEntry.id))]


def test_hidden_post_shows_a_placeholder_to_others_and_the_text_to_author_and_managers(client, world, login, db):
    post = factories.reply(world.thread_a, world.member, "Kauft meine Sägen!")
    other = factories.member(world.cluster_a, factories.user("kai.kollege"))
    login(world.manager)
    assert client.get(f"/p/{post.id}/moderation").status_code == 200
    empty = client.post(f"/p/{post.id}/ausblenden", data={"hide_reason": "  "})
    assert empty.status_code == 400 and "Der Grund darf nicht leer sein." in empty.get_data(as_text=True)
    assert client.post(f"/p/{post.id}/ausblenden", data={"hide_reason": "Werbung"}).status_code == 302
    html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert "Kauft meine Sägen!" in html and "nur für Sie und die Moderation sichtbar" in html
    login(world.member)
    html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert "Kauft meine Sägen!" in html and "Werbung" in html
    login(other)
    html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert "Kauft meine Sägen!" not in html and "Beitrag ausgeblendet" in html and "Werbung" in html
    notice = db.session.scalar(select(Notification).where(Notification.kind == "moderation"))
    assert notice.user_id == world.member.id and notice.data["reason"] == "Werbung"
    login(world.manager)
    assert client.post(f"/p/{post.id}/einblenden").status_code == 302
    db.session.expire_all()
    assert db.session.get(Post, post.id).hidden_at is None
    assert _actions(db) == ["post.hide", "post.unhide"]


def test_hide_and_unhide_through_the_api(app, client, world, api_token, db):
    post = factories.reply(world.thread_a, world.member, "Vertrauliche Preise")
    manager = api_token(world.manager)
    missing = client.post(f"{API}/posts/{post.id}/hide", json={}, headers=manager)
    assert missing.status_code == 400 and missing.get_json()["error"]["code"] == "validation"
    hidden = client.post(f"{API}/posts/{post.id}/hide", json={"reason": "Interna"}, headers=manager)
    assert hidden.status_code == 200 and hidden.get_json()["hidden"] is True
    assert hidden.get_json()["hidden_reason"] == "Interna" and hidden.get_json()["body_html"]
    colleague = factories.member(world.cluster_a, factories.user("kai.kollege"))
    seen = client.get(f"{API}/threads/{world.thread_a.id}", headers=api_token(colleague)).get_json()
    row = next(p for p in seen["items"] if p["id"] == post.id)
    assert row["body_html"] == "" and row["hidden"] is True
    assert client.post(f"{API}/posts/{post.id}/hide", json={"reason": "x"},
                       headers=api_token(world.member)).status_code == 403
    assert client.post(f"{API}/posts/{post.id}/hide", json={"reason": "x"},
                       headers=api_token(world.manager_b)).status_code == 404
    shown = client.post(f"{API}/posts/{post.id}/unhide", headers=manager)
    assert shown.status_code == 200 and shown.get_json()["hidden"] is False


def test_manager_edit_of_a_members_post_records_who_edited(client, world, login, db):
    post = factories.reply(world.thread_a, world.member, "Telefon: 0171 1234567")
    login(world.manager)
    response = client.post(f"/p/{post.id}/bearbeiten", data={"body": "Telefonnummer entfernt"})
    assert response.status_code == 302
    revision = db.session.scalar(select(PostRevision).where(PostRevision.post_id == post.id))
    assert revision.editor_id == world.manager.id and revision.body_markdown == "Telefon: 0171 1234567"
    db.session.expire_all()
    assert db.session.get(Post, post.id).edited_by_id == world.manager.id
    [entry] = db.session.scalars(select(ModerationLogEntry)).all()
    assert (entry.action, entry.actor_id, entry.target_id) == ("post.edit", world.manager.id, post.id)
    login(world.member)
    assert client.post(f"/p/{post.id}/bearbeiten", data={"body": "Eigene Änderung"}).status_code == 302
    assert _actions(db) == ["post.edit"]  # the author's own edit is no moderation


def test_manager_deletes_with_a_reason_and_the_api_delete_is_logged(app, client, world, login, api_token, db):
    first = factories.reply(world.thread_a, world.member, "Beleidigung")
    second = factories.reply(world.thread_a, world.member, "Noch eine")
    login(world.manager)
    assert client.post(f"/p/{first.id}/entfernen", data={"delete_reason": ""}).status_code == 400
    assert client.post(f"/p/{first.id}/entfernen", data={"delete_reason": "Beleidigend"}).status_code == 302
    headers = api_token(world.manager)
    client = app.test_client()  # without the signed-in session
    assert client.delete(f"{API}/posts/{second.id}", headers=headers).status_code == 204
    entries = list(db.session.scalars(select(ModerationLogEntry).order_by(ModerationLogEntry.id)))
    assert [(e.action, e.target_id, e.reason) for e in entries] == [("post.delete", first.id, "Beleidigend"),
                                                                   ("post.delete", second.id, "")]
    own = factories.reply(world.thread_a, world.member, "Meins")
    assert client.delete(f"{API}/posts/{own.id}", headers=api_token(world.member)).status_code == 204
    assert len(db.session.scalars(select(ModerationLogEntry)).all()) == 2


def test_members_see_no_moderation_controls(client, world, login):
    post = factories.reply(world.thread_a, world.manager, "Antwort")
    login(world.member)
    html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert f"/p/{post.id}/moderation" not in html and "/moderation" not in html.split("<main", 1)[1]
    assert f"/p/{post.id}/melden" in html
    assert client.get(f"/p/{post.id}/moderation").status_code == 403
    assert client.get(f"/t/{world.thread_a.id}/moderation").status_code == 403
    login(world.manager)
    html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert f"/p/{post.id}/moderation" in html and f"/t/{world.thread_a.id}/moderation" in html

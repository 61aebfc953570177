"""Platform administration: editing clusters (Themenfelder for the Mitmachen page), account
detail and edit, platform-wide suspension that ends every session, and lifting it."""
from __future__ import annotations

from forum.extensions import db
from forum.models import Cluster, ModerationLogEntry, User
from tests.test_openapi import PREFIX, spec_checked_client  # noqa: F401  (autouse fixture)


def test_admin_edits_a_cluster_and_its_themenfelder(client, world, login):
    login(world.admin)
    response = client.post(f"/admin/cluster/{world.cluster_a.slug}/bearbeiten", data={
        "name": "Cluster Münsterland-West", "region": "Westmünsterland", "description": "Neu beschrieben",
        "topics": ["digitalisierung", "nachfolge"]})
    assert response.status_code == 302
    cluster = db.session.get(Cluster, world.cluster_a.id)
    assert (cluster.name, cluster.region, cluster.topics) == ("Cluster Münsterland-West", "Westmünsterland",
                                                              ["nachfolge", "digitalisierung"])
    assert "Digitalisierung" in client.get("/mitmachen").get_data(as_text=True)
    taken = client.post(f"/admin/cluster/{world.cluster_a.slug}/bearbeiten", data={"name": "Cluster Ruhrgebiet"})
    assert taken.status_code == 400 and "gibt es schon" in taken.get_data(as_text=True)
    unknown = client.post(f"/admin/cluster/{world.cluster_a.slug}/bearbeiten",
                          data={"name": "X", "topics": ["erfunden"]})
    assert unknown.status_code == 400 and "Unbekanntes Themenfeld" in unknown.get_data(as_text=True)
    assert db.session.query(ModerationLogEntry).filter_by(action="cluster.edit").count() == 1


def test_admin_edits_an_account(client, world, login):
    login(world.admin)
    page = client.get(f"/admin/konten/{world.member.username}").get_data(as_text=True)
    assert "Tischlerei Member" in page and "Cluster Münsterland" in page
    client.post(f"/admin/konten/{world.member.username}", data={
        "email": "mia@tischlerei.example", "display_name": "Mia M.", "company": "Tischlerei M", "trade": "Tischler",
        "region": "Münster"})
    user = db.session.get(User, world.member.id)
    assert (user.email, user.display_name, user.is_admin) == ("mia@tischlerei.example", "Mia M.", False)
    taken = client.post(f"/admin/konten/{world.member.username}", data={
        "email": world.manager.email, "display_name": "Mia"})
    assert taken.status_code == 400 and "gibt es schon ein Konto" in taken.get_data(as_text=True)
    assert client.get("/admin/konten/niemand").status_code == 404


def test_suspension_ends_sessions_and_tokens_and_can_be_lifted(app, world, login, api_token):
    member_client = app.test_client()
    member_client.post("/login", data={"login": world.member.username, "password": "richtig-geheim-42"})
    assert member_client.get(f"/t/{world.thread_a.id}").status_code == 200
    headers = api_token(world.member)
    admin = login(world.admin)
    admin.post(f"/admin/konten/{world.member.username}/sperren", data={"reason": "Spam verschickt"})
    user = db.session.get(User, world.member.id)
    assert user.suspended_at is not None and user.suspension_reason == "Spam verschickt"
    assert member_client.get(f"/t/{world.thread_a.id}").status_code == 302  # signed out
    assert app.test_client().get(f"{PREFIX}/me", headers=headers).status_code == 401
    refused = member_client.post("/login", data={"login": world.member.username, "password": "richtig-geheim-42"})
    assert refused.status_code == 200 and "gesperrt" in refused.get_data(as_text=True)
    admin.post(f"/admin/konten/{world.member.username}/entsperren")
    assert member_client.post("/login", data={"login": world.member.username,
                                              "password": "richtig-geheim-42"}).status_code == 302
    actions = [e.action for e in db.session.query(ModerationLogEntry).order_by(ModerationLogEntry.id)]
    assert actions[-2:] == ["account.suspend", "account.unsuspend"]


def test_suspension_needs_a_reason_and_admins_cannot_suspend_themselves(client, world, login):
    login(world.admin)
    empty = client.post(f"/admin/konten/{world.member.username}/sperren", data={"reason": ""}, follow_redirects=True)
    assert "Der Grund darf nicht leer sein." in empty.get_data(as_text=True)
    own = client.post(f"/admin/konten/{world.admin.username}/sperren", data={"reason": "Test"}, follow_redirects=True)
    assert "nicht selbst sperren" in own.get_data(as_text=True)
    assert db.session.get(User, world.admin.id).suspended_at is None


def test_non_admins_never_reach_the_account_pages(client, world, login):
    for role in ("member", "manager", "manager_b"):
        login(getattr(world, role))
        assert client.get(f"/admin/konten/{world.member.username}").status_code == 404
        assert client.post(f"/admin/konten/{world.member.username}/sperren", data={"reason": "x"}).status_code == 404
    assert db.session.get(User, world.member.id).suspended_at is None

"""Members as managers see them: list with activity, roles (never without a manager),
removal (posts stay), suspension within the cluster with reason and end date."""
from __future__ import annotations

import datetime as dt

import pytest

from forum.models import Membership, MembershipState, ModerationLogEntry, Post, User, utcnow
from forum.services import members as members_service, posting
from tests import factories


def _members_url(world, rest=""):
    return f"/c/{world.cluster_a.slug}/verwaltung/mitglieder{rest}"


def test_member_list_shows_role_company_trade_and_last_activity(client, world, login, count_queries):
    login(world.member)  # signing in records activity
    login(world.manager)
    client.get(_members_url(world))
    with count_queries() as counted:
        html = client.get(_members_url(world)).get_data(as_text=True)
    row = html.split(f'id="mitglied-{world.member.id}"')[1].split("</tr>")[0]
    assert "Tischlerei Member" in row and "Tischler" in row and "Mitglied" in row and "<time" in row
    assert counted.n <= 12
    factories.member(world.cluster_a, factories.user("noch.jemand", company="Bäckerei"))
    client.get(_members_url(world))
    with count_queries() as more:
        client.get(_members_url(world))
    assert more.n == counted.n  # no query per member


def test_last_seen_is_updated_at_most_every_few_minutes(client, world, login, db, count_queries):
    login(world.member)
    stamp = utcnow() - dt.timedelta(minutes=2)
    db.session.query(User).filter_by(id=world.member.id).update({"last_seen_at": stamp})
    db.session.commit()
    client.get("/")
    assert db.session.get(User, world.member.id).last_seen_at == stamp
    old = utcnow() - dt.timedelta(minutes=10)
    db.session.query(User).filter_by(id=world.member.id).update({"last_seen_at": old})
    db.session.commit()
    client.get("/")
    db.session.expire_all()
    assert db.session.get(User, world.member.id).last_seen_at > old


def test_the_last_manager_can_be_neither_demoted_nor_removed(client, world, login, db):
    login(world.manager)
    demote = client.post(_members_url(world, f"/{world.manager.id}/rolle"), data={"role": "member"},
                         follow_redirects=True)
    assert ("Ein Cluster braucht mindestens eine Clustermanagerin oder einen Clustermanager"
            in demote.get_data(as_text=True))
    remove = client.post(_members_url(world, f"/{world.manager.id}/entfernen"), follow_redirects=True)
    assert "mindestens eine Clustermanagerin" in remove.get_data(as_text=True)
    assert world.cluster_a.id in db.session.get(User, world.manager.id).managed_cluster_ids
    # with a second manager, the first may step down
    client.post(_members_url(world, f"/{world.member.id}/rolle"), data={"role": "manager"})
    client.post(_members_url(world, f"/{world.manager.id}/rolle"), data={"role": "member"})
    db.session.expire_all()
    assert db.session.get(User, world.member.id).managed_cluster_ids == {world.cluster_a.id}
    assert db.session.get(User, world.manager.id).managed_cluster_ids == frozenset()
    actions = [e.action for e in db.session.query(ModerationLogEntry).filter_by(action="member.role")]
    assert len(actions) == 2


def test_removed_members_keep_their_posts(client, world, login, db):
    post = factories.reply(world.thread_a, world.member, "Mein Beitrag bleibt.")
    login(world.manager)
    client.post(_members_url(world, f"/{world.member.id}/entfernen"), data={"reason": "Betrieb aufgegeben"})
    assert db.session.query(Membership).filter_by(user_id=world.member.id).count() == 0
    kept = db.session.get(Post, post.id)
    assert kept.author_id == world.member.id and kept.deleted_at is None
    html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert "Mein Beitrag bleibt." in html and "Mia Member" in html
    login(world.member)
    assert client.get(f"/t/{world.thread_a.id}").status_code == 404
    entry = db.session.query(ModerationLogEntry).filter_by(action="member.remove").one()
    assert (entry.actor_id, entry.reason) == (world.manager.id, "Betrieb aufgegeben")


def test_suspension_makes_a_member_read_only_with_reason_and_end_date(client, world, login, db):
    until = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    login(world.manager)
    client.post(_members_url(world, f"/{world.member.id}/sperren"), data={"reason": "Beleidigungen", "until": until})
    membership = db.session.query(Membership).filter_by(user_id=world.member.id).one()
    assert membership.state == MembershipState.SUSPENDED and membership.suspension_reason == "Beleidigungen"
    login(world.member)
    assert client.get(f"/t/{world.thread_a.id}").status_code == 200  # still reads
    refused = client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Trotzdem"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "Sie sind in diesem Cluster gesperrt" in text and "Beleidigungen" in text
    # an expired suspension no longer applies
    membership.suspended_until = utcnow() - dt.timedelta(minutes=1)
    db.session.commit()
    assert posting.reply(db.session.get(User, world.member.id), world.thread_a, "Wieder dabei").id
    # lifting it
    membership.suspended_until = None
    db.session.commit()
    login(world.manager)
    client.post(_members_url(world, f"/{world.member.id}/entsperren"))
    db.session.expire_all()
    assert db.session.query(Membership).filter_by(user_id=world.member.id).one().state == MembershipState.ACTIVE


@pytest.mark.parametrize("data,message", [
    ({"reason": ""}, "Der Grund darf nicht leer sein."),
    ({"reason": "x", "until": "2001-01-01"}, "Das Enddatum muss in der Zukunft liegen."),
    ({"reason": "x", "until": "morgen"}, "Bitte geben Sie das Enddatum als Datum an"),
])
def test_bad_suspension_input(client, world, login, data, message):
    login(world.manager)
    response = client.post(_members_url(world, f"/{world.member.id}/sperren"), data=data, follow_redirects=True)
    assert message in response.get_data(as_text=True)


def test_managers_cannot_be_suspended(world):
    from forum.errors import ConflictError
    second = factories.member(world.cluster_a, factories.user("zweite.managerin"), "manager")
    with pytest.raises(ConflictError):
        members_service.suspend(world.manager, world.cluster_a, second.id, "Nein")


@pytest.mark.parametrize("role", ["member", "outsider", "manager_b"])
def test_only_the_clusters_managers_change_members(client, world, login, db, role):
    login(getattr(world, role))
    for action, data in (("rolle", {"role": "manager"}), ("entfernen", {}), ("sperren", {"reason": "x"})):
        assert client.post(_members_url(world, f"/{world.member.id}/{action}"), data=data).status_code == 404
    membership = db.session.query(Membership).filter_by(user_id=world.member.id).one()
    assert membership.is_active and not membership.is_manager


def test_admin_appoints_and_removes_a_manager(client, world, login, db):
    login(world.admin)
    client.post(f"/admin/cluster/{world.cluster_a.slug}", data={"username": world.loner.username, "role": "manager"})
    assert world.cluster_a.id in db.session.get(User, world.loner.id).managed_cluster_ids
    client.post(_members_url(world, f"/{world.loner.id}/rolle"), data={"role": "member"})
    db.session.expire_all()
    assert db.session.get(User, world.loner.id).managed_cluster_ids == frozenset()

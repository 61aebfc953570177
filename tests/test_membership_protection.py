"""Protective settings: approval of new members' first posts (queue, visibility, search) and
slow mode per thread."""
from __future__ import annotations

import datetime as dt

import pytest

from forum.errors import NotAllowedError
from forum.extensions import db
from forum.models import Post, SearchOutbox, Thread, utcnow
from forum.services import posting, protection
from tests import factories, membership_factories
from tests.test_openapi import PREFIX, spec_checked_client  # noqa: F401  (autouse fixture)


@pytest.fixture
def approval(world, client, login):
    """Cluster A asks for approval of the first two posts of new members."""
    login(world.manager)
    client.post(f"/c/{world.cluster_a.slug}/verwaltung/schutz", data={"approval_post_count": "2"})
    newcomer = factories.member(world.cluster_a, factories.user("nina.neu"))
    return newcomer


def test_held_posts_are_seen_by_author_and_managers_only(client, world, login, approval, api_token):
    from forum.search import service

    service.drain()  # the worker has built the search index
    login(approval)  # the newcomer writes through the web form
    response = client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Mein erster Beitrag über Zaunkönige"},
                          follow_redirects=True)
    assert "sobald die Clustermanager:innen sie freigegeben haben" in response.get_data(as_text=True)
    post = db.session.query(Post).filter_by(author_id=approval.id).one()
    assert post.awaiting_approval
    assert db.session.query(SearchOutbox).filter_by(kind="post", object_id=post.id).count() == 0
    assert db.session.get(Thread, world.thread_a.id).reply_count == 0
    assert "Mein erster Beitrag über Zaunkönige" in client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    login(world.member)
    assert "Mein erster Beitrag über Zaunkönige" not in client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert client.get(f"/p/{post.id}").status_code == 404
    api = client.get(f"{PREFIX}/threads/{world.thread_a.id}", headers=api_token(world.member)).get_json()
    assert post.id not in [p["id"] for p in api["items"]]
    hidden = client.get(f"{PREFIX}/search?q=Zaunkönige", headers=api_token(world.member)).get_json()
    assert hidden["items"] == []
    login(world.manager)
    queue = client.get(f"/c/{world.cluster_a.slug}/verwaltung/schutz").get_data(as_text=True)
    assert "Mein erster Beitrag über Zaunkönige" in queue
    client.post(f"/c/{world.cluster_a.slug}/verwaltung/freigaben/{post.id}/freigeben")
    db.session.expire_all()
    assert not db.session.get(Post, post.id).awaiting_approval
    assert db.session.get(Thread, world.thread_a.id).reply_count == 1
    found = client.get(f"{PREFIX}/search?q=Zaunkönige", headers=api_token(world.member)).get_json()
    assert [item["post_id"] for item in found["items"]] == [post.id]
    login(world.member)
    assert "Mein erster Beitrag über Zaunkönige" in client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)


def test_held_members_cannot_start_threads_and_rejected_posts_are_deleted(client, world, login, approval):
    with pytest.raises(NotAllowedError, match="sobald Ihre ersten Beiträge"):
        posting.create_thread(approval, world.board_a, "Neu", "Text")
    post = posting.reply(approval, world.thread_a, "Werbung!")
    login(world.manager)
    client.post(f"/c/{world.cluster_a.slug}/verwaltung/freigaben/{post.id}/ablehnen", data={"reason": "Werbung"})
    db.session.expire_all()
    assert db.session.get(Post, post.id).deleted_at is not None
    assert protection.pending_count(world.cluster_a.id) == 0


def test_after_n_approved_posts_a_member_posts_freely(world, approval):
    for n in range(2):
        post = posting.reply(approval, world.thread_a, f"Beitrag {n}")
        protection.approve(world.manager, world.cluster_a, post.id)
    assert not posting.reply(approval, world.thread_a, "Jetzt frei").awaiting_approval
    assert not posting.reply(world.manager, world.thread_a, "Manager sowieso").awaiting_approval


def test_approval_queue_belongs_to_the_clusters_managers(client, world, login):
    post = membership_factories.pending_post(world.thread_a, world.member)
    for role in ("member", "manager_b", "admin"):
        login(getattr(world, role))
        assert client.get(f"/c/{world.cluster_a.slug}/verwaltung/schutz").status_code == 404
        assert client.post(f"/c/{world.cluster_a.slug}/verwaltung/freigaben/{post.id}/freigeben").status_code == 404
    assert db.session.get(Post, post.id).awaiting_approval


def test_bad_approval_setting(client, world, login):
    login(world.manager)
    response = client.post(f"/c/{world.cluster_a.slug}/verwaltung/schutz", data={"approval_post_count": "viele"})
    assert response.status_code == 400 and "muss eine ganze Zahl ab 0 sein" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["²", "9" * 5000])
def test_numbers_that_are_no_numbers_are_refused_in_german(client, world, login, value):
    """Found by fuzzing: "²".isdigit() is true, but int("²") fails (and int() of 5,000 digits)."""
    login(world.manager)
    response = client.post(f"/c/{world.cluster_a.slug}/verwaltung/schutz", data={"approval_post_count": value})
    message = "muss eine ganze Zahl ab 0 sein" if value == "²" else "darf höchstens"
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    response = client.post(f"/t/{world.thread_a.id}/langsamer-modus", data={"minutes": value})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.get(Thread, world.thread_a.id).slow_mode_minutes == 0


def test_slow_mode_says_when_posting_is_possible_again(client, world, login, db):
    login(world.manager)
    client.post(f"/t/{world.thread_a.id}/langsamer-modus", data={"minutes": "10", "reason": "Hitzige Debatte"})
    assert db.session.get(Thread, world.thread_a.id).slow_mode_minutes == 10
    assert "Langsamer Modus" in client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    writer = factories.member(world.cluster_a, factories.user("sven.schnell"))
    login(writer)
    assert client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Eins"}).status_code == 302
    second = client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Zwei"})
    text = second.get_data(as_text=True)
    assert second.status_code == 400 and "alle 10 Minuten" in text and "wieder schreiben" in text and "Uhr" in text
    # managers are exempt
    posting.reply(world.manager, world.thread_a, "Eins")
    posting.reply(world.manager, world.thread_a, "Zwei")
    # after the interval the member may write again
    db.session.query(Post).filter_by(author_id=writer.id).update({"created_at": utcnow() - dt.timedelta(minutes=11)})
    db.session.commit()
    assert posting.reply(writer, world.thread_a, "Drei").id


def test_slow_mode_is_set_by_the_threads_managers_only(client, world, login):
    for role in ("member", "manager_b", "outsider"):
        login(getattr(world, role))
        assert client.post(f"/t/{world.thread_a.id}/langsamer-modus", data={"minutes": "5"}).status_code == 404
    assert db.session.get(Thread, world.thread_a.id).slow_mode_minutes == 0

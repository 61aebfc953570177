"""Editing a post keeps its mention links and notifies only people it newly mentions."""
from __future__ import annotations

from sqlalchemy import func, select

from forum.models import Notification
from forum.services import posting
from tests import factories


def _mentions_of(db, user):
    return db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.user_id == user.id, Notification.kind == "mention"))


def test_edit_notifies_newly_mentioned_people_once_and_keeps_links(world, db):
    post = factories.reply(world.thread_a, world.member, "Hallo zusammen")
    assert _mentions_of(db, world.manager) == 0
    posting.edit_post(world.member, post, "Hallo @max.manager, was meinst du?")
    assert _mentions_of(db, world.manager) == 1
    assert 'class="mention"' in post.body_html
    posting.edit_post(world.member, post, "Hallo @max.manager, was meinst du dazu?")
    assert _mentions_of(db, world.manager) == 1          # no second notification
    assert 'class="mention"' in post.body_html           # the link survives the edit


def test_edit_never_notifies_someone_who_cannot_see_the_thread(world, db):
    post = factories.reply(world.thread_a, world.member, "Hallo")
    posting.edit_post(world.member, post, "Hallo @otto.outsider")
    assert _mentions_of(db, world.outsider) == 0
    assert 'class="mention"' not in post.body_html

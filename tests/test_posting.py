"""Threads and reply trees through the posting service."""
from __future__ import annotations

import pytest

from forum.errors import NotAllowedError, ValidationError
from forum.models import Post, PostRevision
from forum.services import posting, reading
from tests import factories


def test_reply_tree_paths_depth_and_branches(world, db):
    thread = world.thread_a
    first = factories.first_post(thread)
    r1 = factories.reply(thread, world.manager, "Antwort 1")
    r11 = factories.reply(thread, world.member, "Antwort auf 1", parent=r1)
    r111 = factories.reply(thread, world.manager, "Noch tiefer", parent=r11)
    r2 = factories.reply(thread, world.member, "Antwort 2")
    assert (first.depth, r1.depth, r11.depth, r111.depth, r2.depth) == (0, 1, 2, 3, 1)
    assert r111.path.startswith(r11.path + "/") and r11.path.startswith(r1.path + "/")
    assert r11.branch_id == r1.id == r111.branch_id and r2.branch_id == r2.id
    db.session.refresh(r1)
    db.session.refresh(thread)
    assert r1.branch_size == 3
    assert thread.reply_count == 4 and thread.branch_count == 2
    page = reading.thread_page(thread, "tree", 1, 20)
    assert [row.post.id for row in page.rows] == [first.id, r1.id, r11.id, r111.id, r2.id]
    assert page.rows[3].parent_author == world.member.display_name


def test_tree_pages_never_split_a_subtree(world, db):
    thread = world.thread_a
    branches = []
    for i in range(6):
        top = factories.reply(thread, world.member, f"Zweig {i}")
        branches.append(top)
        for _ in range(i):
            factories.reply(thread, world.manager, "Unterantwort", parent=top)
    db.session.refresh(thread)
    seen = []
    for number in range(1, 10):
        page = reading.thread_page(thread, "tree", number, 5)
        if page.page != number:
            break
        ids = [row.post.branch_id for row in page.rows if row.post.depth > 0]
        for branch in set(ids):
            assert branch not in seen, "a subtree continued on a second page"
        seen.extend(set(ids))
    assert sorted(seen) == sorted(b.id for b in branches)


def test_reply_to_post_of_other_thread_is_rejected(world):
    foreign = factories.first_post(world.platform_thread)
    with pytest.raises(ValidationError):
        posting.reply(world.member, world.thread_a, "Hallo", foreign.id)


def test_edit_keeps_revision_and_delete_is_soft(world, db):
    post = factories.reply(world.thread_a, world.member, "Erste Fassung")
    posting.edit_post(world.member, post, "Zweite Fassung")
    assert post.edited_at is not None and post.body_markdown == "Zweite Fassung"
    revision = db.session.query(PostRevision).filter_by(post_id=post.id).one()
    assert revision.body_markdown == "Erste Fassung" and revision.editor_id == world.member.id
    child = factories.reply(world.thread_a, world.manager, "Antwort darauf", parent=post)
    posting.delete_post(world.member, post)
    assert db.session.get(Post, post.id).is_deleted
    assert db.session.get(Post, child.id).parent_id == post.id


def test_someone_elses_post_cannot_be_edited(world):
    post = factories.reply(world.thread_a, world.manager, "Von der Managerin")
    with pytest.raises(NotAllowedError):
        posting.edit_post(world.member, post, "Übernommen")

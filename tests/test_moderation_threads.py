"""Managers' thread tools: pin, lock with a reason, move, edit, split and merge — through the
web forms and the API, with counters, tree fields, search outbox and log rows checked."""
from __future__ import annotations

from sqlalchemy import select

from forum.models import Board, ModerationLogEntry, Post, SearchOutbox, Thread
from forum.models.threads import PATH_WIDTH
from forum.services import moderation
from tests import factories
from tests.test_openapi import spec_checked_client  # noqa: F401  (autouse fixture)

API = "/api/v1"


def _log(db, action):
    return list(db.session.scalars(select(ModerationLogEntry).where(ModerationLogEntry.action == action)))


def _seg(post_id):
    return str(post_id).zfill(PATH_WIDTH)


def test_manager_locks_with_a_reason_and_the_member_sees_it(client, world, login, db):
    login(world.manager)
    page = client.get(f"/t/{world.thread_a.id}/moderation")
    assert page.status_code == 200 and "Thema sperren" in page.get_data(as_text=True)
    response = client.post(f"/t/{world.thread_a.id}/sperren", data={"lock_reason": "Bitte beim Thema bleiben"})
    assert response.status_code == 302
    [entry] = _log(db, "thread.lock")
    assert entry.actor_id == world.manager.id and entry.reason == "Bitte beim Thema bleiben"
    assert entry.cluster_id == world.cluster_a.id
    login(world.member)
    html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert "Dieses Thema ist gesperrt." in html and "Bitte beim Thema bleiben" in html
    assert client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Trotzdem"}).status_code in (400, 403)
    assert client.post(f"/t/{world.thread_a.id}/entsperren").status_code == 403
    login(world.manager)
    assert client.post(f"/t/{world.thread_a.id}/entsperren").status_code == 302
    db.session.expire_all()
    assert db.session.get(Thread, world.thread_a.id).is_locked is False
    assert len(_log(db, "thread.unlock")) == 1


def test_lock_pin_unpin_unlock_through_the_api(client, world, api_token, db):
    headers = api_token(world.manager)
    tid = world.thread_a.id
    locked = client.post(f"{API}/threads/{tid}/lock", json={"reason": "Ruhe bitte"}, headers=headers)
    assert locked.status_code == 200 and locked.get_json()["is_locked"] is True
    assert locked.get_json()["lock_reason"] == "Ruhe bitte"
    assert client.post(f"{API}/threads/{tid}/lock", headers=headers).get_json()["lock_reason"] == ""  # no body
    assert client.post(f"{API}/threads/{tid}/pin", headers=headers).get_json()["is_pinned"] is True
    assert client.post(f"{API}/threads/{tid}/unpin", headers=headers).get_json()["is_pinned"] is False
    assert client.post(f"{API}/threads/{tid}/unlock", headers=headers).get_json()["is_locked"] is False
    actions = [e.action for e in db.session.scalars(select(ModerationLogEntry).order_by(ModerationLogEntry.id))]
    assert actions == ["thread.lock", "thread.lock", "thread.pin", "thread.unpin", "thread.unlock"]
    member = api_token(world.member)
    refused = client.post(f"{API}/threads/{tid}/lock", headers=member)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"


def test_pin_from_the_thread_page(client, world, login, db):
    login(world.manager)
    html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert f"/t/{world.thread_a.id}/anheften" in html and "Moderieren" in html
    assert client.post(f"/t/{world.thread_a.id}/anheften").status_code == 302
    db.session.expire_all()
    assert db.session.get(Thread, world.thread_a.id).is_pinned
    login(world.member)
    assert f"/t/{world.thread_a.id}/abheften" not in client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)


def test_move_within_the_cluster_adjusts_counters_and_search(client, world, login, db):
    second = factories.board(world.cluster_a, "Werkstatt")
    factories.reply(world.thread_a, world.member, "Eine Antwort")
    login(world.manager)
    response = client.post(f"/t/{world.thread_a.id}/verschieben", data={"board_id": str(second.id), "move_reason": ""})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Thread, world.thread_a.id).board_id == second.id
    old, new = db.session.get(Board, world.board_a.id), db.session.get(Board, second.id)
    assert (old.thread_count, old.post_count, new.thread_count, new.post_count) == (0, 0, 1, 2)
    [entry] = _log(db, "thread.move")
    assert entry.details["to_board"] == "Werkstatt"


def test_move_to_another_clusters_board_is_refused_in_german(app, client, world, login, api_token, db):
    login(world.manager)
    response = client.post(f"/t/{world.thread_a.id}/verschieben", data={"board_id": str(world.board_b.id)})
    assert response.status_code == 400
    assert "Das Ziel-Brett gibt es in diesem Cluster nicht." in response.get_data(as_text=True)
    headers = api_token(world.manager)
    client = app.test_client()
    for body in ({"board_id": world.board_b.id}, {"board_id": world.platform_board.id}, {"board_id": 999999},
                 {"board_id": "x"}, {}):
        answer = client.post(f"{API}/threads/{world.thread_a.id}/move", json=body, headers=headers)
        assert answer.status_code == 400, body
        assert answer.get_json()["error"]["code"] == "validation"
    same = client.post(f"{API}/threads/{world.thread_a.id}/move", json={"board_id": world.board_a.id}, headers=headers)
    assert same.status_code == 400
    db.session.expire_all()
    assert db.session.get(Thread, world.thread_a.id).board_id == world.board_a.id
    assert _log(db, "thread.move") == []


def test_manager_of_another_cluster_gets_404(client, world, api_token):
    headers = api_token(world.manager_b)
    for path in ("lock", "unlock", "pin", "unpin"):
        assert client.post(f"{API}/threads/{world.thread_a.id}/{path}", headers=headers).status_code == 404
    assert client.post(f"{API}/threads/{world.thread_a.id}/move", json={"board_id": world.board_b.id},
                       headers=headers).status_code == 404


def test_edit_title_and_themenfelder(app, client, world, login, api_token, db):
    login(world.manager)
    response = client.post(f"/t/{world.thread_a.id}/titel", data={"title": "Azubis gewinnen", "tags": ["nachfolge"]})
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    db.session.expire_all()
    thread = db.session.get(Thread, world.thread_a.id)
    assert thread.title == "Azubis gewinnen" and [t.slug for t in thread.tags] == ["nachfolge"]
    [entry] = _log(db, "thread.edit")
    assert entry.details["old_title"] == "Azubis finden im Münsterland"
    bad = client.post(f"/t/{world.thread_a.id}/titel", data={"title": "  "})
    assert bad.status_code == 400 and "Der Titel darf nicht leer sein." in bad.get_data(as_text=True)
    # found by fuzzing: a NUL in a Themenfeld reached the query, and PostgreSQL answered 500
    bad = client.post(f"/t/{world.thread_a.id}/titel", data={"title": "Azubis", "tags": ["nach\x00folge"]})
    assert bad.status_code == 400 and "Unbekanntes Themenfeld" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert [t.slug for t in db.session.get(Thread, world.thread_a.id).tags] == ["nachfolge"]
    client = app.test_client()
    answer = client.patch(f"{API}/threads/{world.thread_a.id}", json={"title": "Neu", "tags": []},
                          headers=api_token(world.manager))
    assert answer.status_code == 200 and answer.get_json()["title"] == "Neu" and answer.get_json()["tags"] == []
    assert client.patch(f"{API}/threads/{world.thread_a.id}", json={"title": "Nein"},
                        headers=api_token(world.member)).status_code == 403


def _tree(world):
    """opening ← a ← a1 ← a2, opening ← b; returns the posts."""
    a = factories.reply(world.thread_a, world.member, "Zweig A")
    a1 = factories.reply(world.thread_a, world.manager, "Unter A", parent=a)
    a2 = factories.reply(world.thread_a, world.member, "Tiefer unter A", parent=a1)
    b = factories.reply(world.thread_a, world.manager, "Zweig B")
    return a, a1, a2, b


def test_split_a_nested_subtree_recomputes_both_threads(client, world, login, db):
    a, a1, a2, b = _tree(world)
    login(world.manager)
    response = client.post(f"/p/{a1.id}/abtrennen", data={"split_title": "Abgetrennt"})
    assert response.status_code == 302
    db.session.expire_all()
    new = db.session.scalar(select(Thread).where(Thread.title == "Abgetrennt"))
    assert response.headers["Location"].endswith(f"/t/{new.id}")
    opener, child = db.session.get(Post, a1.id), db.session.get(Post, a2.id)
    assert (opener.thread_id, opener.parent_id, opener.depth, opener.path, opener.branch_id) == \
        (new.id, None, 0, _seg(a1.id), a1.id)
    assert (child.thread_id, child.depth, child.path, child.branch_id, child.branch_size) == \
        (new.id, 1, f"{_seg(a1.id)}/{_seg(a2.id)}", a2.id, 1)
    assert (new.first_post_id, new.reply_count, new.branch_count, new.author_id) == (a1.id, 1, 1, world.manager.id)
    old = db.session.get(Thread, world.thread_a.id)
    assert (old.reply_count, old.branch_count) == (2, 2)
    assert db.session.get(Post, a.id).branch_size == 1
    assert db.session.get(Board, world.board_a.id).thread_count == 2
    [entry] = _log(db, "thread.split")
    assert entry.details["new_thread_id"] == new.id and entry.details["posts"] == 2
    assert client.get(f"/t/{new.id}").status_code == 200 and client.get(f"/t/{old.id}").status_code == 200


def test_split_a_top_level_reply_through_the_api(client, world, api_token, db):
    a, a1, a2, b = _tree(world)
    answer = client.post(f"{API}/posts/{a.id}/split", json={"title": "Eigenes Thema"}, headers=api_token(world.manager))
    assert answer.status_code == 201 and answer.get_json()["reply_count"] == 2
    db.session.expire_all()
    old = db.session.get(Thread, world.thread_a.id)
    assert (old.reply_count, old.branch_count) == (1, 1)
    moved = db.session.get(Post, a2.id)
    assert (moved.depth, moved.branch_id) == (2, a1.id)
    assert db.session.get(Post, a1.id).branch_size == 2
    opening = client.post(f"{API}/posts/{world.thread_a.first_post_id}/split", json={"title": "X"},
                          headers=api_token(world.manager))
    assert opening.status_code == 400
    assert client.post(f"{API}/posts/{b.id}/split", json={"title": ""},
                       headers=api_token(world.manager)).status_code == 400


def test_merge_moves_every_post_under_the_target_opening_post(client, world, login, db):
    source = factories.thread(world.board_a, world.member, "Doppelt gefragt", "Auch: Azubis?")
    s1 = factories.reply(source, world.manager, "Antwort im Duplikat")
    s2 = factories.reply(source, world.member, "Tiefer", parent=s1)
    t1 = factories.reply(world.thread_a, world.manager, "Antwort im Ziel")
    login(world.manager)
    response = client.post(f"/t/{source.id}/zusammenfuehren",
                           data={"target_thread_id": str(world.thread_a.id), "merge_reason": "Duplikat"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Thread, source.id) is None
    target = db.session.get(Thread, world.thread_a.id)
    first = db.session.get(Post, source.first_post_id)
    target_first = db.session.get(Post, target.first_post_id)
    assert (first.thread_id, first.parent_id, first.depth, first.branch_id, first.branch_size) == \
        (target.id, target_first.id, 1, first.id, 3)
    deep = db.session.get(Post, s2.id)
    assert deep.path == f"{target_first.path}/{_seg(first.id)}/{_seg(s1.id)}/{_seg(s2.id)}"
    assert (deep.depth, deep.branch_id) == (3, first.id)
    assert (target.reply_count, target.branch_count) == (4, 2)
    board = db.session.get(Board, world.board_a.id)
    assert (board.thread_count, board.post_count) == (1, 5)
    assert db.session.get(Post, t1.id).thread_id == target.id
    [entry] = _log(db, "thread.merge")
    assert entry.reason == "Duplikat" and entry.details["source_thread_id"] == source.id
    assert client.get(f"/p/{s2.id}").status_code == 302  # post links keep working
    page = client.get(f"/t/{target.id}").get_data(as_text=True)
    assert "Tiefer" in page and "Auch: Azubis?" in page


def test_merge_across_clusters_or_into_itself_is_refused(client, world, api_token, login, db):
    headers = api_token(world.manager)  # before signing in: the session would take precedence
    for target in (world.thread_b.id, world.platform_thread.id, world.thread_a.id, 999999, "abc", None,
                   2**63, "²", "9" * 5000):  # the last three found by fuzzing (500 before)
        answer = client.post(f"{API}/threads/{world.thread_a.id}/merge", json={"target_thread_id": target},
                             headers=headers)
        assert answer.status_code == 400, target
    client.post("/logout")
    login(world.manager)
    for target in (str(world.thread_b.id), "²"):
        page = client.post(f"/t/{world.thread_a.id}/zusammenfuehren", data={"target_thread_id": target})
        assert page.status_code == 400
        assert "Das Ziel-Thema gibt es in diesem Cluster nicht." in page.get_data(as_text=True)
    page = client.post(f"/t/{world.thread_a.id}/verschieben", data={"board_id": "²"})
    assert page.status_code == 400 and db.session.get(Thread, world.thread_a.id).board_id == world.board_a.id
    assert db.session.get(Thread, world.thread_a.id) is not None and _log(db, "thread.merge") == []


def test_merge_through_the_api_answers_the_target(client, world, api_token):
    source = factories.thread(world.board_a, world.member, "Zweites Thema")
    answer = client.post(f"{API}/threads/{source.id}/merge", json={"target_thread_id": world.thread_a.id},
                         headers=api_token(world.manager))
    assert answer.status_code == 200 and answer.get_json()["id"] == world.thread_a.id
    assert answer.get_json()["reply_count"] == 1
    assert client.get(f"{API}/threads/{source.id}", headers=api_token(world.member)).status_code == 404


def test_service_rolls_nothing_half_done(world, db):
    """A refused move leaves no log row and no outbox row behind."""
    before = db.session.scalar(select(SearchOutbox.id).order_by(SearchOutbox.id.desc()).limit(1))
    try:
        moderation.move(world.manager, world.thread_a, world.board_b.id)
    except Exception:
        db.session.rollback()
    assert _log(db, "thread.move") == []
    assert db.session.scalar(select(SearchOutbox.id).order_by(SearchOutbox.id.desc()).limit(1)) == before


def test_services_queue_search_updates_in_the_same_transaction(world, db):
    """(Web requests drain the outbox right after the write, so the rows are checked here.)"""
    second = factories.board(world.cluster_a, "Werkstatt")
    a, a1, a2, b = _tree(world)
    other = factories.thread(second, world.member, "Noch eins")
    db.session.execute(SearchOutbox.__table__.delete())
    db.session.commit()
    moderation.move(world.manager, world.thread_a, second.id)
    new = moderation.split(world.manager, db.session.get(Post, a1.id), "Teil")
    moderation.merge(world.manager, other, world.thread_a.id)
    moderation.hide(world.manager, db.session.get(Post, b.id), "Werbung")
    rows = [(r.kind, r.object_id) for r in db.session.scalars(select(SearchOutbox).order_by(SearchOutbox.id))]
    assert rows == [("thread", world.thread_a.id), ("thread", world.thread_a.id), ("thread", new.id),
                    ("thread", other.id), ("thread", world.thread_a.id), ("post", b.id)]


def test_merge_keeps_the_depth_cap(app, world, db):
    """Issue 15, point 10: a merge moves the source one level down; replies that would go past
    MAX_REPLY_DEPTH sit beside the post they answer and say whom they answer."""
    from forum.models import Post
    from forum.services import moderation, posting

    app.config["MAX_REPLY_DEPTH"] = 2
    source = factories.thread(world.board_a, world.member, "Kette")
    source_opening = source.first_post_id
    first = factories.reply(source, world.member, "Ebene 1")
    second = posting.reply(world.manager, source, "Ebene 2", first.id)
    third = posting.reply(world.member, source, "Ebene 3, schon am Deckel", second.id)
    assert (second.depth, third.depth, third.reply_to_id) == (2, 2, second.id)
    moderation.merge(world.manager, source, world.thread_a.id, "gehört zusammen")
    db.session.expire_all()
    posts = {p.id: p for p in db.session.query(Post).filter_by(thread_id=world.thread_a.id)}
    assert max(p.depth for p in posts.values()) == 2
    opening = source_opening   # a top-level reply of the target now; "Ebene 1" sits below it
    assert posts[first.id].depth == 2 and posts[first.id].reply_to_id is None
    assert (posts[second.id].parent_id, posts[second.id].reply_to_id) == (opening, first.id)
    assert (posts[third.id].parent_id, posts[third.id].reply_to_id) == (opening, second.id)
    for post in posts.values():
        if post.parent_id is not None:
            assert post.path == f"{posts[post.parent_id].path}/{str(post.id).zfill(10)}"
            assert post.depth == posts[post.parent_id].depth + 1

"""The JSON API's promises (CONTRACT.md "HTTP JSON API"): success paths and who sees what.

Every answer is also checked against the OpenAPI document (``spec_checked_client``).
"""
from __future__ import annotations

import datetime as dt

import pytest
from flask import session
from flask_wtf.csrf import generate_csrf

from forum.models import Post, utcnow
from forum.services import posting
from tests import factories
from tests.test_moderation_matrix import API_MATRIX as MODERATION_API_MATRIX
from tests.test_openapi import PREFIX, openapi_path, spec_checked_client  # noqa: F401  (autouse fixture)

ROLES = ("anonymous", "outsider", "member", "manager", "admin")


@pytest.fixture
def headers_for(world, api_token):
    def _headers(role: str) -> dict:
        return {} if role == "anonymous" else api_token(getattr(world, role))
    return _headers


# -- the visibility matrix: every route × every role ----------------------------------------------

def _reply_in_a(world):
    return factories.reply(world.thread_a, world.member, "Antwort von Mia")


# (method, documented path, concrete path, JSON body, status for anonymous, outsider, member, manager, admin)
MATRIX = [
    ("GET", "/me", lambda w: "/me", None, (401, 200, 200, 200, 200)),
    ("GET", "/openapi.json", lambda w: "/openapi.json", None, (200, 200, 200, 200, 200)),
    # -- one's own tokens (tests/test_token_lifetime.py): another account's token is unknown
    ("GET", "/tokens", lambda w: "/tokens", None, (401, 200, 200, 200, 200)),
    ("DELETE", "/tokens/current", lambda w: "/tokens/current", None, (401, 204, 204, 204, 204)),
    ("DELETE", "/tokens/{token_id}", lambda w: f"/tokens/{_member_token_id(w)}", None, (401, 404, 204, 404, 404)),
    ("GET", "/clusters", lambda w: "/clusters", None, (401, 200, 200, 200, 200)),
    ("GET", "/clusters/{slug}", lambda w: f"/clusters/{w.cluster_a.slug}", None, (401, 404, 200, 200, 200)),
    ("GET", "/boards/{board_id}/threads", lambda w: f"/boards/{w.board_a.id}/threads", None,
     (401, 404, 200, 200, 404)),
    ("POST", "/boards/{board_id}/threads", lambda w: f"/boards/{w.board_a.id}/threads",
     {"title": "Neu", "body": "Text"}, (401, 404, 201, 201, 404)),
    ("GET", "/threads/{thread_id}", lambda w: f"/threads/{w.thread_a.id}", None, (401, 404, 200, 200, 404)),
    ("GET", "/threads/{thread_id}", lambda w: f"/threads/{w.platform_thread.id}", None, (401, 200, 200, 200, 200)),
    ("POST", "/threads/{thread_id}/posts", lambda w: f"/threads/{w.thread_a.id}/posts", {"body": "Antwort"},
     (401, 404, 201, 201, 404)),
    ("PATCH", "/posts/{post_id}", lambda w: f"/posts/{_reply_in_a(w).id}", {"body": "Geändert"},
     (401, 404, 200, 200, 404)),
    ("DELETE", "/posts/{post_id}", lambda w: f"/posts/{_reply_in_a(w).id}", None, (401, 404, 204, 204, 404)),
    ("GET", "/posts/{post_id}/revisions", lambda w: f"/posts/{w.thread_a.first_post_id}/revisions", None,
     (401, 404, 200, 200, 404)),
    # -- cluster management
    ("POST", "/clusters/{slug}/invites", lambda w: f"/clusters/{w.cluster_a.slug}/invites",
     {"email": "neuer.betrieb@example.org", "role": "member"}, (401, 404, 403, 201, 201)),
    ("GET", "/clusters/{slug}/invites", lambda w: f"/clusters/{w.cluster_a.slug}/invites", None,
     (401, 404, 403, 200, 200)),
    ("GET", "/clusters/{slug}/members", lambda w: f"/clusters/{w.cluster_a.slug}/members", None,
     (401, 404, 403, 200, 200)),
    ("POST", "/invites/{token}/accept", lambda w: f"/invites/{_invite_token(w)}/accept",
     {"username": "neu.im.cluster", "password": "ganz-geheim-123"}, (200, 200, 200, 200, 200)),
    # -- notifications, watching, reactions
    ("GET", "/notifications", lambda w: "/notifications?unread=1", None, (401, 200, 200, 200, 200)),
    ("POST", "/notifications/read", lambda w: "/notifications/read", {"all": True}, (401, 200, 200, 200, 200)),
    ("PUT", "/threads/{thread_id}/watch", lambda w: f"/threads/{w.thread_a.id}/watch", {"level": "watching"},
     (401, 404, 200, 200, 404)),
    ("PUT", "/boards/{board_id}/watch", lambda w: f"/boards/{w.board_a.id}/watch", {"level": "muted"},
     (401, 404, 200, 200, 404)),
    ("PUT", "/clusters/{slug}/watch", lambda w: f"/clusters/{w.cluster_a.slug}/watch", {"level": "watching"},
     (401, 404, 200, 200, 404)),
    ("GET", "/posts/{post_id}/reactions", lambda w: f"/posts/{w.thread_a.first_post_id}/reactions", None,
     (401, 404, 200, 200, 404)),
    ("PUT", "/posts/{post_id}/reactions/{kind}", lambda w: f"/posts/{_reply_in_a(w).id}/reactions/daumen", None,
     (401, 404, 403, 200, 404)),
    ("DELETE", "/posts/{post_id}/reactions/{kind}", lambda w: f"/posts/{_reply_in_a(w).id}/reactions/daumen", None,
     (401, 404, 403, 200, 404)),
]
MATRIX += MODERATION_API_MATRIX  # -- moderation (tests/test_moderation_matrix.py)


def _member_token_id(world) -> int:
    from forum.services import accounts
    return accounts.issue_api_token(world.member, days=1, name="Zweites Gerät")[1].id


def _invite_token(world):
    from forum.services import membership
    from tests import membership_factories
    return membership.token_for(membership_factories.invitation(world.cluster_a, world.manager))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,template,path,body,expected", MATRIX,
                         ids=[f"{m[0]} {m[1]} #{i}" for i, m in enumerate(MATRIX)])
def test_visibility_matrix(client, world, headers_for, role, method, template, path, body, expected):
    response = client.open(PREFIX + path(world), method=method, json=body, headers=headers_for(role))
    assert response.status_code == expected[ROLES.index(role)], response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        assert set(response.get_json()["error"]) == {"code", "message"}


def test_matrix_covers_every_api_route(app):
    """/tokens has its own tests below; /search belongs to the search module's tests."""
    covered = {(method, template) for method, template, *_rest in MATRIX}
    routes = {
        (method, openapi_path(rule.rule))
        for rule in app.url_map.iter_rules() if rule.rule.startswith(PREFIX + "/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    } - {("POST", "/tokens"), ("GET", "/search")}
    assert routes == covered


def test_outsider_gets_404_for_everything_in_a_private_cluster(client, world, headers_for):
    headers = headers_for("outsider")
    post_id = _reply_in_a(world).id
    for path in (f"/boards/{world.board_a.id}/threads", f"/threads/{world.thread_a.id}",
                 f"/posts/{post_id}/revisions", f"/clusters/{world.cluster_a.slug}"):
        response = client.get(PREFIX + path, headers=headers)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    unknown = client.get(f"{PREFIX}/threads/999999", headers=headers)
    assert unknown.get_json() == client.get(f"{PREFIX}/threads/{world.thread_a.id}", headers=headers).get_json()


def test_admin_sees_the_cluster_but_not_its_boards_by_default(client, world, headers_for):
    answer = client.get(f"{PREFIX}/clusters/{world.cluster_a.slug}", headers=headers_for("admin")).get_json()
    assert answer["readable"] is False and answer["boards"] == []
    listed = client.get(f"{PREFIX}/clusters", headers=headers_for("admin")).get_json()
    assert {c["slug"] for c in listed["items"]} == {world.cluster_a.slug, world.cluster_b.slug}


def test_admins_read_all_lets_the_admin_read_but_not_write(app, client, world, headers_for):
    app.config["ADMINS_READ_ALL"] = True
    headers = headers_for("admin")
    post_id = _reply_in_a(world).id
    cluster = client.get(f"{PREFIX}/clusters/{world.cluster_a.slug}", headers=headers).get_json()
    assert cluster["readable"] is True and [b["id"] for b in cluster["boards"]] == [world.board_a.id]
    for path in (f"/boards/{world.board_a.id}/threads", f"/threads/{world.thread_a.id}", f"/posts/{post_id}/revisions"):
        assert client.get(PREFIX + path, headers=headers).status_code == 200, path
    new = client.post(f"{PREFIX}/boards/{world.board_a.id}/threads", json={"title": "T", "body": "B"}, headers=headers)
    assert new.status_code == 403
    assert client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json={"body": "B"},
                       headers=headers).status_code == 403


# -- tokens and the caller --------------------------------------------------------------------------

def test_token_authenticates_and_me_describes_the_caller(client, world):
    response = client.post(f"{PREFIX}/tokens", json={"username": world.member.username, "password": factories.PASSWORD})
    assert response.status_code == 201
    me = client.get(f"{PREFIX}/me", headers={"Authorization": f"Bearer {response.get_json()['token']}"}).get_json()
    assert me["username"] == "mia.member" and me["company"] == "Tischlerei Member"
    assert [(m["cluster"]["slug"], m["role"]) for m in me["memberships"]] == [(world.cluster_a.slug, "member")]
    assert [b["id"] for b in me["platform_boards"]] == [world.platform_board.id]


def test_unknown_user_and_wrong_password_get_the_same_401(client, world):
    wrong = client.post(f"{PREFIX}/tokens", json={"username": world.member.username, "password": "falsch-falsch-1"})
    unknown = client.post(f"{PREFIX}/tokens", json={"username": "niemand", "password": factories.PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert wrong.get_json()["error"]["code"] == "unauthorized"


def test_suspended_account_gets_no_token_and_its_token_stops_working(client, world, db, api_token):
    headers = api_token(world.member)
    world.member.suspended_at = utcnow()
    db.session.commit()
    assert client.get(f"{PREFIX}/me", headers=headers).status_code == 401
    response = client.post(f"{PREFIX}/tokens", json={"username": world.member.username, "password": factories.PASSWORD})
    assert response.status_code == 401


# -- clusters, boards, threads --------------------------------------------------------------------

def test_clusters_are_paginated(client, world, headers_for):
    factories.member(world.cluster_b, world.member)
    headers = headers_for("member")
    first = client.get(f"{PREFIX}/clusters?per_page=1", headers=headers).get_json()
    second = client.get(f"{PREFIX}/clusters?per_page=1&page=2", headers=headers).get_json()
    assert first["total"] == second["total"] == 2 and first["per_page"] == 1 and second["page"] == 2
    assert [c["name"] for c in first["items"] + second["items"]] == ["Cluster Münsterland", "Cluster Ruhrgebiet"]
    assert first["items"][0]["url"] == f"/c/{world.cluster_a.slug}"


def test_cluster_lists_its_boards_with_their_urls(client, world, headers_for):
    answer = client.get(f"{PREFIX}/clusters/{world.cluster_a.slug}", headers=headers_for("member")).get_json()
    assert answer["readable"] is True
    assert answer["boards"] == [{
        "id": world.board_a.id, "cluster_id": world.cluster_a.id, "slug": "nachwuchs-gewinnen",
        "name": "Nachwuchs gewinnen", "description": "", "is_archived": False, "thread_count": 1, "post_count": 1,
        "url": f"/b/{world.board_a.id}",
    }]


def test_board_threads_pinned_first_then_last_activity(client, world, db, headers_for):
    older = factories.thread(world.board_a, world.member, "Älter")
    newer = factories.thread(world.board_a, world.member, "Neuer")
    pinned = world.thread_a
    pinned.is_pinned = True
    older.last_activity_at = utcnow() - dt.timedelta(days=2)
    newer.last_activity_at = utcnow() - dt.timedelta(days=1)
    pinned.last_activity_at = utcnow() - dt.timedelta(days=9)
    db.session.commit()
    headers = headers_for("member")
    answer = client.get(f"{PREFIX}/boards/{world.board_a.id}/threads", headers=headers).get_json()
    assert [t["id"] for t in answer["items"]] == [pinned.id, newer.id, older.id]
    assert answer["total"] == 3 and answer["page"] == 1 and answer["per_page"] == 25
    assert answer["items"][0]["is_pinned"] is True and answer["items"][0]["url"] == f"/t/{pinned.id}"
    page2 = client.get(f"{PREFIX}/boards/{world.board_a.id}/threads?per_page=2&page=2", headers=headers).get_json()
    assert [t["id"] for t in page2["items"]] == [older.id] and page2["total"] == 3
    beyond = client.get(f"{PREFIX}/boards/{world.board_a.id}/threads?page=5", headers=headers).get_json()
    assert beyond["items"] == [] and beyond["page"] == 5


def test_create_thread_answers_the_thread_with_its_first_post(client, world, headers_for):
    response = client.post(f"{PREFIX}/boards/{world.board_a.id}/threads", headers=headers_for("member"),
                           json={"title": "Ausbildungsmesse 2026", "body": "Wer fährt **mit**?",
                                 "tags": ["nachwuchs-und-ausbildung"]})
    assert response.status_code == 201
    thread = response.get_json()
    assert thread["title"] == "Ausbildungsmesse 2026" and thread["board_id"] == world.board_a.id
    assert thread["tags"] == [{"slug": "nachwuchs-und-ausbildung", "name": "Nachwuchs & Ausbildung"}]
    assert thread["first_post"]["body_html"] == "<p>Wer fährt <strong>mit</strong>?</p>"
    assert thread["first_post"]["id"] == thread["first_post_id"] and thread["first_post"]["parent_id"] is None
    assert thread["author"] == {"username": "mia.member", "display_name": "Mia Member",
                                "company": "Tischlerei Member", "trade": "Tischler"}
    assert thread["created_at"].endswith("Z") and response.headers["Location"].endswith(f"/threads/{thread['id']}")
    assert thread["url"] == f"/t/{thread['id']}" and thread["first_post"]["url"] == f"/p/{thread['first_post_id']}"


# -- thread pages ------------------------------------------------------------------------------------

def test_thread_tree_and_flat_views(client, world, headers_for):
    thread = world.thread_a
    r1 = factories.reply(thread, world.manager, "Eins")
    r2 = factories.reply(thread, world.member, "Zwei")
    r11 = factories.reply(thread, world.member, "Eins-eins", parent=r1)
    headers = headers_for("member")
    tree = client.get(f"{PREFIX}/threads/{thread.id}", headers=headers).get_json()
    flat = client.get(f"{PREFIX}/threads/{thread.id}?view=flat", headers=headers).get_json()
    assert [p["id"] for p in tree["items"]] == [thread.first_post_id, r1.id, r11.id, r2.id]
    assert [p["id"] for p in flat["items"]] == [thread.first_post_id, r1.id, r2.id, r11.id]
    assert [(p["parent_id"], p["depth"]) for p in tree["items"]] == [(None, 0), (thread.first_post_id, 1), (r1.id, 2),
                                                                      (thread.first_post_id, 1)]
    assert tree["view"] == "tree" and flat["view"] == "flat"
    assert (tree["total"], tree["pages"], tree["page"], tree["per_page"]) == (4, 1, 1, 20)
    assert tree["thread"]["id"] == thread.id and tree["thread"]["reply_count"] == 3


def test_thread_pages(client, world, headers_for):
    for n in range(5):
        factories.reply(world.thread_a, world.member, f"Antwort {n}")
    headers = headers_for("member")
    second = client.get(f"{PREFIX}/threads/{world.thread_a.id}?view=flat&per_page=2&page=2", headers=headers).get_json()
    assert (second["page"], second["pages"], second["total"], len(second["items"])) == (2, 3, 6, 2)
    last = client.get(f"{PREFIX}/threads/{world.thread_a.id}?view=flat&per_page=2&page=3", headers=headers).get_json()
    assert len(last["items"]) == 2 and last["page"] == 3


def test_thread_page_makes_a_fixed_number_of_queries(client, world, headers_for, count_queries):
    headers = headers_for("member")
    counts = []
    for replies in (2, 12):
        while world.thread_a.reply_count < replies:
            factories.reply(world.thread_a, world.manager if world.thread_a.reply_count % 2 else world.member, "Hallo")
        with count_queries() as counted:
            assert client.get(f"{PREFIX}/threads/{world.thread_a.id}", headers=headers).status_code == 200
        counts.append(counted.n)
    assert counts[0] == counts[1], counts


def test_deleted_and_hidden_posts(client, world, db, headers_for):
    deleted = factories.reply(world.thread_a, world.member, "Gleich weg")
    hidden = factories.reply(world.thread_a, world.member, "Ausgeblendet")
    posting.delete_post(world.member, deleted)
    hidden.hidden_at = utcnow()
    db.session.commit()

    def posts(role):
        items = client.get(f"{PREFIX}/threads/{world.thread_a.id}", headers=headers_for(role)).get_json()["items"]
        return {p["id"]: p for p in items}

    for role in ("member", "manager"):
        assert posts(role)[deleted.id]["deleted"] is True and posts(role)[deleted.id]["body_html"] == ""
    assert posts("member")[hidden.id]["body_html"] == "<p>Ausgeblendet</p>"   # the author
    assert posts("manager")[hidden.id]["body_html"] == "<p>Ausgeblendet</p>"  # a moderator
    other = factories.member(world.cluster_a, factories.user("paula.peer"))
    response = client.get(f"{PREFIX}/threads/{world.thread_a.id}", headers=client_token(client, other))
    peer_view = {p["id"]: p for p in response.get_json()["items"]}
    assert peer_view[hidden.id]["hidden"] is True and peer_view[hidden.id]["body_html"] == ""


def client_token(client, user) -> dict:
    response = client.post(f"{PREFIX}/tokens", json={"username": user.username, "password": factories.PASSWORD})
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


# -- replies, edits, deletes, revisions ------------------------------------------------------------

def test_reply_to_the_opening_post_and_to_a_reply(client, world, headers_for):
    headers = headers_for("manager")
    top = client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json={"body": "Oben"}, headers=headers)
    assert top.status_code == 201
    assert (top.get_json()["parent_id"], top.get_json()["depth"]) == (world.thread_a.first_post_id, 1)
    nested = client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", headers=headers,
                         json={"body": "Darunter", "parent_id": top.get_json()["id"]}).get_json()
    assert (nested["parent_id"], nested["depth"], nested["thread_id"]) == (top.get_json()["id"], 2, world.thread_a.id)
    assert nested["author"]["username"] == "max.manager" and nested["edited_at"] is None


def test_edit_keeps_a_revision(client, world, headers_for):
    headers = headers_for("member")
    post_id = _reply_in_a(world).id
    response = client.patch(f"{PREFIX}/posts/{post_id}", json={"body": "Zweite Fassung"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["body_html"] == "<p>Zweite Fassung</p>" and response.get_json()["edited_at"]
    assert response.get_json()["revision_count"] == 1
    revisions = client.get(f"{PREFIX}/posts/{post_id}/revisions", headers=headers).get_json()
    assert revisions["total"] == 1
    assert revisions["items"][0]["body_markdown"] == "Antwort von Mia" and revisions["items"][0]["number"] == 1
    assert revisions["items"][0]["editor"]["username"] == "mia.member"


def test_manager_edits_a_members_post(client, world, headers_for):
    post_id = _reply_in_a(world).id
    response = client.patch(f"{PREFIX}/posts/{post_id}", json={"body": "Moderiert"}, headers=headers_for("manager"))
    assert response.status_code == 200 and response.get_json()["author"]["username"] == "mia.member"


def test_delete_is_soft(client, world, db, headers_for):
    headers = headers_for("member")
    post = _reply_in_a(world)
    child = factories.reply(world.thread_a, world.manager, "Antwort darauf", parent=post)
    response = client.delete(f"{PREFIX}/posts/{post.id}", headers=headers)
    assert response.status_code == 204 and response.data == b""
    items = {p["id"]: p for p in client.get(f"{PREFIX}/threads/{world.thread_a.id}",
                                            headers=headers).get_json()["items"]}
    assert items[post.id]["deleted"] is True and items[post.id]["body_html"] == ""
    assert items[child.id]["parent_id"] == post.id
    assert db.session.get(Post, post.id).body_markdown == "Antwort von Mia"
    again = client.patch(f"{PREFIX}/posts/{post.id}", json={"body": "Wieder da"}, headers=headers)
    assert again.status_code == 403


# -- browser sessions ---------------------------------------------------------------------------------

def test_session_may_read_and_writes_need_the_csrf_token(app, client, world, login):
    login(world.member)
    assert client.get(f"{PREFIX}/threads/{world.thread_a.id}").status_code == 200
    refused = client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json={"body": "Ohne Token"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf"
    with app.test_request_context():
        token = generate_csrf()
        raw = session["csrf_token"]
    with client.session_transaction() as stored:
        stored["csrf_token"] = raw
    accepted = client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json={"body": "Mit Token"},
                           headers={"X-CSRFToken": token})
    assert accepted.status_code == 201

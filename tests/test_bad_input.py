"""Issue 15, point 10: "Bad input gives 500."

Input no database column can store (a lone UTF-16 surrogate, "\\ud800"), JSON nested a hundred
thousand levels deep and query strings that are not UTF-8 are answered with 400 and a German
message in the API's error shape, or a German page, never with a 500. A reply chain a thousand
deep keeps its stored tree path short and its pages small, and its deepest reply still says
whom it answers.
"""
from __future__ import annotations

import pytest

from forum.extensions import db

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
LONE = b"\\ud800"        # a JSON escape of a high surrogate without its low half


def _raw_query(raw: bytes) -> dict:
    """A query string with bytes as a script may send them (browsers percent-encode)."""
    return {"environ_overrides": {"QUERY_STRING": raw.decode("latin-1")}}


def _assert_api_400(response) -> str:
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert set(error) == {"code", "message"}
    return error["message"]


# -- (a) lone surrogates in every kind of JSON string field -----------------------------------

def _surrogate_cases(world) -> dict[str, tuple[str, str, bytes]]:
    thread, post = world.thread_a.id, world.thread_a.first_post_id
    return {
        "title": ("POST", f"/api/v1/boards/{world.board_a.id}/threads",
                  b'{"title": "Azubi' + LONE + b'", "body": "Text"}'),
        "body of a new thread": ("POST", f"/api/v1/boards/{world.board_a.id}/threads",
                                 b'{"title": "Azubis", "body": "Text ' + LONE + b'"}'),
        "body of a reply": ("POST", f"/api/v1/threads/{thread}/posts", b'{"body": "Danke ' + LONE + b'!"}'),
        "body of an edit": ("PATCH", f"/api/v1/posts/{post}", b'{"body": "' + LONE + b'"}'),
        "a tag in a list": ("POST", f"/api/v1/boards/{world.board_a.id}/threads",
                            b'{"title": "Azubis", "body": "Text", "tags": ["' + LONE + b'"]}'),
        "a key": ("POST", f"/api/v1/threads/{thread}/posts", b'{"body": "Danke", "' + LONE + b'": 1}'),
        "raw bytes, not an escape": ("POST", f"/api/v1/threads/{thread}/posts", b'{"body": "Danke \xed\xa0\x80"}'),
    }


@pytest.mark.parametrize("case", ["title", "body of a new thread", "body of a reply", "body of an edit",
                                  "a tag in a list", "a key", "raw bytes, not an escape"])
def test_a_lone_surrogate_in_a_json_field_is_a_400_in_german(case, world, client, api_token):
    """Issue 15, point 10 (a): a lone surrogate reached the database and failed there with a 500."""
    method, url, body = _surrogate_cases(world)[case]
    headers = {**api_token(world.manager), "Content-Type": JSON}
    response = client.open(url, method=method, data=body, headers=headers)
    assert "ungültige Zeichen" in _assert_api_400(response)


def test_a_lone_surrogate_in_the_username_of_a_token_request_is_a_400(world, client):
    """Issue 15, point 10 (a): POST /tokens with such a name answered 500."""
    response = client.post("/api/v1/tokens", data=b'{"username": "mia' + LONE + b'", "password": "x"}',
                           content_type=JSON)
    assert "ungültige Zeichen" in _assert_api_400(response)


def test_a_surrogate_pair_is_an_ordinary_character(world, client, api_token):
    """The check refuses lone halves only: an emoji written as an escaped pair is welcome."""
    response = client.post(f"/api/v1/threads/{world.thread_a.id}/posts", data=b'{"body": "Danke \\ud83d\\ude00"}',
                           headers={**api_token(world.member), "Content-Type": JSON})
    assert response.status_code == 201
    assert "Danke \U0001F600" in response.get_json()["body_html"]


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"body": ' + b"[" * 100_000, b'{"body": ' + b'{"a": ' * 50_000])
def test_deeply_nested_json_is_a_400(body, world, client, api_token):
    """Issue 15, point 10 (a): a hundred thousand brackets made the parser give up with a 500."""
    response = client.post(f"/api/v1/threads/{world.thread_a.id}/posts", data=body,
                           headers={**api_token(world.member), "Content-Type": JSON})
    assert "zu tief verschachtelt" in _assert_api_400(response)


def test_brackets_inside_strings_do_not_count_as_nesting(world, client, api_token):
    """Markdown is full of brackets: only the JSON structure's depth is bounded."""
    body = "[[[[Link]]]] " * 500 + "{{{{ Vorlage }}}}"
    response = client.post(f"/api/v1/threads/{world.thread_a.id}/posts", json={"body": body},
                           headers=api_token(world.member))
    assert response.status_code == 201


# -- (a) query strings and forms that are not UTF-8 -------------------------------------------

def test_api_search_with_bytes_that_are_not_utf8_is_no_500(world, client, api_token):
    """Issue 15, point 10 (a): ``?q=`` with raw bytes broke ``request.args`` (a 500)."""
    response = client.get("/api/v1/search", headers=api_token(world.member), **_raw_query(b"q=\xed\xa0\x80"))
    assert response.status_code == 200
    assert response.get_json()["items"] == []


@pytest.mark.parametrize("path", ["/search", "/t/{thread}", "/"])
def test_web_pages_with_a_query_string_that_is_not_utf8_answer(path, world, client, login):
    """Issue 15, point 10 (a): every page that read ``request.args`` (or printed
    ``request.full_path``) failed, even the error page itself."""
    login(world.member)
    response = client.get(path.format(thread=world.thread_a.id), **_raw_query(b"q=\xff&page=\xed\xa0\x80"))
    assert response.status_code in (200, 400)   # the search form says "Seite" must be a number
    assert '<html lang="de">' in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["q=%ED%A0%80", "q=%FF%FE"])
def test_percent_escaped_invalid_utf8_in_searches_is_no_500(query, world, client, login, api_token):
    """Issue 15, point 10 (a), a guard (Werkzeug already keeps invalid escapes as text)."""
    assert client.get(f"/api/v1/search?{query}", headers=api_token(world.member)).status_code == 200
    login(world.member)
    assert client.get(f"/search?{query}").status_code == 200


@pytest.mark.parametrize("body", [b"body=%ED%A0%80", b"body=Hallo+%FF+Welt"])
def test_a_reply_form_with_escaped_invalid_utf8_is_no_500(body, world, client, login):
    """Issue 15, point 10 (a), a guard: the escapes stay text, the reply is an ordinary one."""
    login(world.member)
    response = client.post(f"/t/{world.thread_a.id}/antworten", data=body, content_type=FORM)
    assert response.status_code == 302


def test_a_reply_form_with_raw_bytes_that_are_not_utf8_gets_a_german_error(world, client, login):
    """Issue 15, point 10 (a), a guard: Werkzeug drops a form it cannot decode; the form then
    says in German what is missing."""
    login(world.member)
    response = client.post(f"/t/{world.thread_a.id}/antworten", data=b"body=Hallo \xed\xa0\x80 Welt", content_type=FORM)
    assert response.status_code == 400
    assert "darf nicht leer sein" in response.get_data(as_text=True)
    db.session.rollback()


# -- (b) a reply chain a thousand deep ---------------------------------------------------------

CHAIN = 1_000
THROUGH_THE_SERVICE = 40    # well past the depth cap; the rest in one batch, placed by the same rule


@pytest.fixture
def chain(world) -> list[int]:
    """A thousand replies in thread A, each answering the one before, by two people in turn.
    The first ones go through ``posting.reply`` (25 ms each); the rest are inserted at once,
    placed by the service's own rule (``posting._tree_place``) and counted as it counts."""
    from sqlalchemy import update

    from forum.models import Board, Post, Thread
    from forum.models.threads import PATH_WIDTH
    from forum.rendering import render
    from forum.services import posting

    thread, people = world.thread_a, (world.member, world.manager)
    parent = None
    ids = []
    for n in range(THROUGH_THE_SERVICE):
        parent = posting.reply(people[n % 2], thread, f"Antwort {n + 1}", parent.id if parent else None)
        ids.append(parent.id)
    rest = [Post(thread_id=thread.id, author_id=people[n % 2].id, body_markdown=f"Antwort {n + 1}",
                 body_html=render(f"Antwort {n + 1}")) for n in range(THROUGH_THE_SERVICE, CHAIN)]
    db.session.add_all(rest)
    db.session.flush()
    for post in rest:
        post.parent_id, post.depth, anchor_path = posting._tree_place(parent)
        post.path = f"{anchor_path}/{str(post.id).zfill(PATH_WIDTH)}"
        post.reply_to_id = parent.id if post.parent_id != parent.id else None
        post.branch_id = parent.branch_id
        parent = post
        ids.append(post.id)
    db.session.execute(update(Post).where(Post.id == ids[0]).values(branch_size=Post.branch_size + len(rest)))
    db.session.execute(update(Thread).where(Thread.id == thread.id).values(reply_count=Thread.reply_count + len(rest)))
    db.session.execute(update(Board).where(Board.id == thread.board_id).values(post_count=Board.post_count + len(rest)))
    db.session.commit()
    return ids


def test_a_reply_chain_a_thousand_deep_stores_short_paths(chain, world, app):
    """Issue 15, point 10 (b): every reply stored the ids of all its ancestors, so a chain of
    1,000 stored 5.5 MB of paths (the deepest 11,011 characters). Now no reply sits deeper than
    MAX_REPLY_DEPTH; deeper ones sit beside the post they answer and name it."""
    from sqlalchemy import func, select

    from forum.models import Post
    from forum.models.threads import MAX_REPLY_DEPTH, PATH_WIDTH

    longest, deepest, stored = db.session.execute(
        select(func.max(func.length(Post.path)), func.max(Post.depth), func.sum(func.length(Post.path)))
        .where(Post.thread_id == world.thread_a.id)).one()
    assert app.config.get("MAX_REPLY_DEPTH", MAX_REPLY_DEPTH) == MAX_REPLY_DEPTH == 16
    assert deepest == MAX_REPLY_DEPTH
    assert longest == (MAX_REPLY_DEPTH + 1) * (PATH_WIDTH + 1) - 1 == 186
    assert stored < 200 * CHAIN
    last, before = db.session.get(Post, chain[-1]), db.session.get(Post, chain[-2])
    assert last.reply_to_id == last.answers_id == before.id
    assert last.parent_id == before.parent_id == chain[MAX_REPLY_DEPTH - 2]   # the ancestor one level up
    assert db.session.get(Post, chain[0]).branch_size == CHAIN


def test_a_reply_past_the_cap_through_the_service_notifies_whom_it_answers(chain, world):
    """Issue 15, point 10 (b): the reply keeps the post it answers; its author gets the
    "Antwort" notification, not the author of the ancestor it is filed under."""
    from sqlalchemy import select

    from forum.models import Notification, Post
    from forum.models.threads import MAX_REPLY_DEPTH
    from forum.services import posting
    from tests import factories

    third = factories.member(world.cluster_a, factories.user("tina.tischler"))
    answered = posting.reply(third, world.thread_a, "Ich hänge mich an", chain[-1])
    answer = posting.reply(world.member, world.thread_a, "Danke, Tina", answered.id)
    assert (answered.depth, answered.reply_to_id) == (MAX_REPLY_DEPTH, chain[-1])
    assert (answer.depth, answer.reply_to_id, answer.answers_id) == (MAX_REPLY_DEPTH, answered.id, answered.id)
    assert answer.parent_id == db.session.get(Post, chain[-1]).parent_id != answered.id
    assert len(answer.path) == len(answered.path) == 186
    kinds = set(db.session.scalars(select(Notification.kind).where(Notification.user_id == third.id,
                                                                    Notification.post_id == answer.id)))
    assert "reply" in kinds


def test_the_tree_page_of_a_thousand_deep_chain_is_small_and_paginated(chain, world, client, login, app):
    """Issue 15, point 10 (b): the whole chain was one branch, so one tree page of 1.4 MB. Now a
    branch larger than a page gets pages of its own, POSTS_PER_PAGE posts each."""
    from forum.models import Post

    per_page = app.config["POSTS_PER_PAGE"]
    login(world.member)
    first = client.get(f"/t/{world.thread_a.id}")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert html.count('<article class="post') == per_page + 1          # the opening post besides
    assert len(first.get_data()) < 150_000
    pages = -(-CHAIN // per_page)
    assert f"?page={pages}" in html
    last = client.get(f"/t/{world.thread_a.id}?page={pages}").get_data(as_text=True)
    assert f'id="p{chain[-1]}"' in last and f'id="p{chain[0]}"' not in last
    before = db.session.get(Post, chain[-2])
    assert f'Antwort an <a href="/p/{before.id}">{before.author.display_name}</a>' in last
    jump = client.get(f"/p/{chain[-1]}")
    assert jump.status_code == 302 and f"page={pages}#p{chain[-1]}" in jump.headers["Location"]


def test_the_api_tree_view_of_a_thousand_deep_chain_is_paginated(chain, world, client, api_token):
    """Issue 15, point 10 (b): ``GET /threads/<id>?view=tree`` answered the whole branch on
    one page; now ``per_page`` posts a page, and the deepest reply names whom it answers."""
    headers = api_token(world.member)
    url = f"/api/v1/threads/{world.thread_a.id}?view=tree&per_page=50"
    first = client.get(url, headers=headers).get_json()
    assert len(first["items"]) == 51 and first["pages"] == CHAIN // 50
    last = client.get(f"{url}&page={CHAIN // 50}", headers=headers).get_json()
    assert len(last["items"]) == 50
    deepest = last["items"][-1]
    assert deepest["id"] == chain[-1]
    assert deepest["reply_to_id"] == chain[-2] != deepest["parent_id"]
    seen = {item["id"] for page in range(1, CHAIN // 50 + 1)
            for item in client.get(f"{url}&page={page}", headers=headers).get_json()["items"]}
    assert seen == {*chain, world.thread_a.first_post_id}   # every post once, none lost between pages

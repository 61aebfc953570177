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
        "title": ("POST", f"/api/v1/boards/{world.board_a.id}/threads", b'{"title": "Azubi' + LONE + b'", "body": "Text"}'),
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

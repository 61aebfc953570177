"""Bad input and refused requests: always the JSON error shape with the right status, never a 500."""
from __future__ import annotations

import pytest

from forum import create_app
from forum.extensions import db as _db
from tests import factories
from tests.test_openapi import PREFIX, spec_checked_client  # noqa: F401  (autouse fixture)

LONG_BODY = 50_000


def error_of(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) == {"code", "message"} and error["message"]
    if code:
        assert error["code"] == code
    return error


@pytest.fixture
def member(world, api_token):
    return api_token(world.member)


def _endpoints(world) -> dict[str, tuple[str, str]]:
    reply = factories.reply(world.thread_a, world.member, "Antwort")
    return {
        "create_thread": ("POST", f"/boards/{world.board_a.id}/threads"),
        "create_post": ("POST", f"/threads/{world.thread_a.id}/posts"),
        "edit_post": ("PATCH", f"/posts/{reply.id}"),
        "create_token": ("POST", "/tokens"),
    }


# -- authentication ------------------------------------------------------------------------------

def test_invalid_token_is_401(client, world):
    error = error_of(client.get(f"{PREFIX}/me", headers={"Authorization": "Bearer nicht-gueltig"}), 401, "unauthorized")
    assert "Zugangstoken" in error["message"]
    error_of(client.get(f"{PREFIX}/clusters", headers={"Authorization": "Bearer "}), 401)
    error_of(client.get(f"{PREFIX}/clusters", headers={"Authorization": "Basic Zm9vOmJhcg=="}), 401)


def test_anonymous_write_is_401_not_a_csrf_error(client, world):
    error_of(client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json={"body": "x"}), 401, "unauthorized")


def test_rate_limit_on_tokens_answers_429(tmp_path):
    limited = create_app({
        "TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'rl.db'}",
        "SEARCH_DIR": str(tmp_path / "rl_index"), "RATELIMIT_ENABLED": True, "SERVER_NAME": "forum.test",
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1,
    })
    with limited.app_context():
        _db.create_all()
        client = limited.test_client()
        # a new name each time: five failures for one name are throttled sooner (test_login_throttle.py)
        statuses = [client.post(f"{PREFIX}/tokens", json={"username": f"x{n}", "password": "y"}).status_code
                    for n in range(11)]
        assert statuses == [401] * 10 + [429]
        error_of(client.post(f"{PREFIX}/tokens", json={"username": "x", "password": "y"}), 429, "rate_limited")
        _db.session.remove()
        _db.engine.dispose()


# -- the body is not a JSON object ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["create_thread", "create_post", "edit_post", "create_token"])
def test_body_must_be_a_json_object(client, world, member, name):
    method, path = _endpoints(world)[name]
    url = PREFIX + path
    error_of(client.open(url, method=method, data="title=x", headers=member,
                         content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type")
    error_of(client.open(url, method=method, data="{kaputt", headers=member, content_type="application/json"), 400)
    error_of(client.open(url, method=method, data="", headers=member, content_type="application/json"), 400)
    for value in ("[1, 2]", '"text"', "5", "null"):
        error_of(client.open(url, method=method, data=value, headers=member, content_type="application/json"), 400)


def test_body_over_the_size_limit_is_413(client, world, member):
    huge = {"title": "Groß", "body": "x" * (2 * 1024 * 1024 + 10)}
    error_of(client.post(f"{PREFIX}/boards/{world.board_a.id}/threads", json=huge, headers=member), 413, "too_large")


# -- wrong JSON types for every field -------------------------------------------------------------

WRONG_TYPES = [5, 1.5, True, [], {}, ["Text"]]


@pytest.mark.parametrize("field", ["title", "body"])
@pytest.mark.parametrize("value", WRONG_TYPES + [None])
def test_create_thread_field_types(client, world, member, field, value):
    payload = {"title": "Titel", "body": "Text", field: value}
    error = error_of(client.post(f"{PREFIX}/boards/{world.board_a.id}/threads", json=payload, headers=member), 400)
    assert error["code"] == "validation"


@pytest.mark.parametrize("value", ["nachfolge", 5, True, {"slug": "nachfolge"}, [1], [["nachfolge"]], [None],
                                   ["gibt-es-nicht"], ["nachfolge", "fachkraefte", "digitalisierung", "nachfolge2", "a",
                                                       "b"]])
def test_create_thread_tags_types(client, world, member, value):
    payload = {"title": "Titel", "body": "Text", "tags": value}
    error_of(client.post(f"{PREFIX}/boards/{world.board_a.id}/threads", json=payload, headers=member), 400,
             "validation")


@pytest.mark.parametrize("value", WRONG_TYPES + [None])
def test_reply_body_types(client, world, member, value):
    error_of(client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json={"body": value}, headers=member), 400,
             "validation")


@pytest.mark.parametrize("value", ["1", "", 1.0, 1.5, True, False, [], {}, 0, -3, 2**31, 10**30])
def test_reply_parent_id_types(client, world, member, value):
    payload = {"body": "Antwort", "parent_id": value}
    error_of(client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json=payload, headers=member), 400,
             "validation")


@pytest.mark.parametrize("value", WRONG_TYPES + [None])
def test_edit_body_types(client, world, member, value):
    method, path = _endpoints(world)["edit_post"]
    error_of(client.open(PREFIX + path, method=method, json={"body": value}, headers=member), 400, "validation")


@pytest.mark.parametrize("field", ["username", "password"])
@pytest.mark.parametrize("value", WRONG_TYPES + [None])
def test_token_field_types(client, world, field, value):
    payload = {"username": world.member.username, "password": factories.PASSWORD, field: value}
    error_of(client.post(f"{PREFIX}/tokens", json=payload), 400, "validation")


# -- text content ----------------------------------------------------------------------------------

@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\u202e", "\u200b"])
def test_control_characters_are_refused(client, world, member, char):
    board = f"{PREFIX}/boards/{world.board_a.id}/threads"
    error_of(client.post(board, json={"title": f"Titel{char}", "body": "Text"}, headers=member), 400, "validation")
    error_of(client.post(board, json={"title": "Titel", "body": f"Te{char}xt"}, headers=member), 400, "validation")
    error_of(client.post(board, json={"title": "Titel", "body": "Text", "tags": [f"nachfolge{char}"]}, headers=member),
             400, "validation")
    error_of(client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json={"body": f"a{char}b"}, headers=member),
             400, "validation")
    error_of(client.post(f"{PREFIX}/tokens", json={"username": f"mia{char}", "password": factories.PASSWORD}), 401)


def test_title_and_body_limits(client, world, member):
    board = f"{PREFIX}/boards/{world.board_a.id}/threads"
    error = error_of(client.post(board, json={"title": "T" * 201, "body": "Text"}, headers=member), 400, "validation")
    assert "200" in error["message"]
    assert client.post(board, json={"title": "T" * 200, "body": "Text"}, headers=member).status_code == 201
    error = error_of(client.post(board, json={"title": "Lang", "body": "b" * (LONG_BODY + 1)}, headers=member), 400)
    assert "50.000" in error["message"]
    assert client.post(board, json={"title": "Lang", "body": "b" * LONG_BODY}, headers=member).status_code == 201
    reply = f"{PREFIX}/threads/{world.thread_a.id}/posts"
    error_of(client.post(reply, json={"body": "b" * (LONG_BODY + 1)}, headers=member), 400, "validation")
    error_of(client.post(reply, json={"body": "   \n  "}, headers=member), 400, "validation")
    error_of(client.post(board, json={"title": "   ", "body": "Text"}, headers=member), 400, "validation")


# -- rules of the forum ----------------------------------------------------------------------------

def test_reply_whose_parent_is_in_another_thread(client, world, member):
    foreign = factories.reply(world.platform_thread, world.member, "Anderswo")
    for parent in (foreign.id, world.thread_b.first_post_id, 999_999):
        error = error_of(client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", headers=member,
                                     json={"body": "Hallo", "parent_id": parent}), 400, "validation")
        assert "gehört nicht zu diesem Thema" in error["message"]


def test_reply_into_a_locked_thread(client, world, db, member, api_token):
    world.thread_a.is_locked = True
    db.session.commit()
    error = error_of(client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json={"body": "Hallo"}, headers=member),
                     403, "forbidden")
    assert "gesperrt" in error["message"]
    manager = api_token(world.manager)
    assert client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json={"body": "Moderation"},
                       headers=manager).status_code == 201


def test_editing_or_deleting_someone_elses_post_is_403(client, world, member):
    theirs = factories.reply(world.thread_a, world.manager, "Von Max")
    error_of(client.patch(f"{PREFIX}/posts/{theirs.id}", json={"body": "Übernommen"}, headers=member), 403, "forbidden")
    error_of(client.delete(f"{PREFIX}/posts/{theirs.id}", headers=member), 403, "forbidden")


def test_suspended_membership_may_read_but_not_write(client, world, db, member):
    world.member.memberships[0].state = "suspended"
    db.session.commit()
    assert client.get(f"{PREFIX}/threads/{world.thread_a.id}", headers=member).status_code == 200
    error_of(client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json={"body": "x"}, headers=member), 403)
    error_of(client.post(f"{PREFIX}/boards/{world.board_a.id}/threads", json={"title": "t", "body": "x"},
                         headers=member), 403)


# -- unknown ids, bad query parameters --------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", "/clusters/gibt-es-nicht"), ("GET", "/clusters/%00"), ("GET", "/clusters/" + "x" * 300),
    ("GET", "/boards/999999/threads"), ("POST", "/boards/999999/threads"), ("GET", "/boards/0/threads"),
    ("GET", "/boards/99999999999999999999/threads"), ("GET", "/threads/999999"), ("GET", "/threads/2147483648"),
    ("POST", "/threads/999999/posts"), ("PATCH", "/posts/999999"), ("DELETE", "/posts/999999"),
    ("GET", "/posts/999999/revisions"), ("GET", "/posts/18446744073709551616/revisions"), ("GET", "/gibt-es-nicht"),
])
def test_unknown_ids_are_404_with_the_json_shape(client, world, member, method, path):
    body = {"title": "t", "body": "b"} if method in ("POST", "PATCH") else None
    error_of(client.open(PREFIX + path, method=method, json=body, headers=member), 404, "not_found")


@pytest.mark.parametrize("body", [{"all": True, "ids": [0]}, {"all": True, "ids": None}, {"all": False, "ids": [1]},
                                  {"all": "ja"}, {}, {"ids": [2**31]}])
def test_marking_notifications_read_checks_every_field(client, world, member, body):
    """Found by fuzzing: beside ``"all": true`` invalid ids were accepted."""
    error_of(client.post(f"{PREFIX}/notifications/read", json=body, headers=member), 400, "validation")


def test_marking_notifications_read(client, world, member):
    factories.reply(world.thread_a, world.manager, "Neu für Mia")
    assert client.post(f"{PREFIX}/notifications/read", json={"ids": [1]}, headers=member).status_code == 200
    answer = client.post(f"{PREFIX}/notifications/read", json={"all": True}, headers=member).get_json()
    assert answer["unread"] == 0


def test_wrong_method_is_405_with_the_json_shape(client, world, member):
    response = client.put(f"{PREFIX}/posts/{world.thread_a.first_post_id}", json={"body": "x"}, headers=member)
    error_of(response, 405, "method_not_allowed")
    assert "PATCH" in response.headers["Allow"]


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "page=1.5", "page=", "per_page=0",
                                   "per_page=101", "per_page=x", "page=99999999999", "page=%C2%B2", "page=%EF%BC%91"])
@pytest.mark.parametrize("path", ["/clusters", "/boards/{board}/threads", "/threads/{thread}",
                                  "/posts/{post}/revisions"])
def test_bad_page_parameters_are_400(client, world, member, query, path):
    url = PREFIX + path.format(board=world.board_a.id, thread=world.thread_a.id, post=world.thread_a.first_post_id)
    error_of(client.get(f"{url}?{query}", headers=member), 400, "validation")


def test_per_page_100_is_allowed(client, world, member):
    answer = client.get(f"{PREFIX}/boards/{world.board_a.id}/threads?per_page=100", headers=member).get_json()
    assert answer["per_page"] == 100


@pytest.mark.parametrize("view", ["", "baum", "TREE", "tree "])
def test_unknown_view_is_400(client, world, member, view):
    error_of(client.get(f"{PREFIX}/threads/{world.thread_a.id}?view={view}", headers=member), 400, "validation")

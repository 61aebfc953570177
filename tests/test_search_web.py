"""The search page (/search) and GET /api/v1/search (CONTRACT.md)."""
from __future__ import annotations

import datetime as dt

import pytest

from tests import factories


@pytest.fixture
def indexed(world):
    """The world as the worker has indexed it (requests index only their own writes)."""
    from forum.search import service

    service.drain()
    return world


@pytest.fixture
def threads(world, db):
    """Five Wärmepumpe threads in cluster A, dated one day apart, the last one tagged."""
    made = []
    for day in range(5):
        thread = factories.thread(world.board_a, world.member if day % 2 else world.manager,
                                  f"Wärmepumpe Teil {day}", f"Bericht {day} über die Wärmepumpe im Betrieb.",
                                  tags=["klima-und-energie"] if day == 4 else None)
        stamp = dt.datetime(2026, 3, 1 + day, 12, 0)
        thread.created_at = stamp
        factories.first_post(thread).created_at = stamp
        made.append(thread)
    db.session.commit()
    from forum.search import service
    service.rebuild()   # the dates were changed behind the posting service's back
    return made


def test_search_page_shows_german_labels_count_and_highlights(threads, login):
    client = login(threads[0].author)
    html = client.get("/search?q=Wärmepumpe").get_data(as_text=True)
    assert '<html lang="de">' in html
    assert "Suchbegriffe" in html and "Sortierung" in html and "Themenfeld" in html
    assert "5 Themen gefunden" in html
    assert "<mark>Wärmepumpe</mark>" in html
    assert "Wärmepumpe im Altbau" not in html           # cluster B's thread


def test_search_page_without_query_shows_only_the_form(world, login):
    html = login(world.member).get("/search").get_data(as_text=True)
    assert "Suchbegriffe" in html and "gefunden" not in html


def test_search_page_needs_a_login(client, world):
    response = client.get("/search?q=Wärmepumpe")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_search_page_paginates_with_plain_links(threads, login):
    client = login(threads[0].author)
    first = client.get("/search?q=Wärmepumpe&per_page=2").get_data(as_text=True)
    assert first.count('class="card search-result"') == 2
    assert "page=2" in first and "per_page=2" in first
    third = client.get("/search?q=Wärmepumpe&per_page=2&page=3").get_data(as_text=True)
    assert third.count('class="card search-result"') == 1


def test_search_page_filters_and_sorting(threads, world, login):
    client = login(world.member)
    newest = client.get("/search?q=Wärmepumpe&sort=newest").get_data(as_text=True)
    assert newest.index("Wärmepumpe Teil 4") < newest.index("Wärmepumpe Teil 0")
    assert "1 Thema gefunden" in client.get("/search?q=Wärmepumpe&tag=klima-und-energie").get_data(as_text=True)
    by_author = client.get(f"/search?q=Wärmepumpe&author={world.member.username}")
    assert "2 Themen gefunden" in by_author.get_data(as_text=True)
    in_dates = client.get("/search?q=Wärmepumpe&from=2026-03-02&to=2026-03-04")
    assert "3 Themen gefunden" in in_dates.get_data(as_text=True)
    assert "5 Themen gefunden" in client.get(f"/search?q=Wärmepumpe&board={world.board_a.id}").get_data(as_text=True)


def test_search_page_explains_bad_input(world, login):
    response = login(world.member).get("/search?q=x&from=gestern")
    assert response.status_code == 400
    assert "JJJJ-MM-TT" in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ["²", "9" * 5000])
def test_search_page_refuses_a_page_number_that_is_no_number(world, login, page):
    """Found by fuzzing: "²".isdigit() is true and int("²") fails; so does int() of 5,000 digits."""
    response = login(world.member).get("/search", query_string={"q": "Azubis", "page": page})
    assert response.status_code == 400
    assert "muss eine Zahl zwischen" in response.get_data(as_text=True)


def test_search_page_offers_the_correction(threads, world, login):
    html = login(world.member).get("/search?q=Wärmepume").get_data(as_text=True)
    assert "Meinten Sie" in html and "q=W%C3%A4rmepumpe" in html


def test_new_post_is_found_right_after_posting(world, indexed, login):
    client = login(world.member)
    response = client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Frisch gepostet: Zitronenfalter"})
    assert response.status_code == 302
    assert "1 Thema gefunden" in client.get("/search?q=Zitronenfalter").get_data(as_text=True)


def test_api_search_shape(threads, world, client, api_token):
    headers = api_token(world.member)
    body = client.get("/api/v1/search?q=Wärmepumpe&per_page=2&page=1", headers=headers).get_json()
    assert set(body) == {"items", "page", "per_page", "total", "suggestion"}
    assert (body["page"], body["per_page"], body["total"], body["suggestion"]) == (1, 2, 5, None)
    item = body["items"][0]
    assert set(item) == {"post_id", "thread_id", "thread_title", "board_id", "cluster_slug", "snippet_html",
                         "score", "created_at", "url"}
    assert item["cluster_slug"] == world.cluster_a.slug and item["url"] == f"/p/{item['post_id']}"
    assert item["created_at"].endswith("Z") and "<mark>" in item["snippet_html"]
    assert len({i["thread_id"] for i in body["items"]}) == 2


def test_api_search_groups_by_thread(world, client, api_token, db):
    for n in range(3):
        factories.reply(world.thread_a, world.member, f"Antwort {n} zum Kaminofen")
    from forum.search import service

    service.drain()   # the worker's pass: the replies were written through the services
    body = client.get("/api/v1/search?q=Kaminofen", headers=api_token(world.member)).get_json()
    assert body["total"] == 1 and len(body["items"]) == 1
    assert body["items"][0]["thread_id"] == world.thread_a.id


def test_api_search_suggestion_and_sort(threads, world, client, api_token):
    headers = api_token(world.member)
    assert client.get("/api/v1/search?q=Wärmepume", headers=headers).get_json()["suggestion"] == "Wärmepumpe"
    newest = client.get("/api/v1/search?q=Wärmepumpe&sort=newest", headers=headers).get_json()["items"]
    ids = [i["thread_id"] for i in newest]
    titles = {t.id: t.title for t in threads}
    assert [titles[i] for i in ids] == [f"Wärmepumpe Teil {d}" for d in (4, 3, 2, 1, 0)]


@pytest.mark.parametrize("query", ["", "q=", "q=x&sort=alt", "q=x&per_page=101", "q=x&page=0", "q=x&to=31.12.2026",
                                   "q=x&page=%C2%B2", "q=x&board=%C2%B2", "q=x&page=" + "9" * 5000,  # found by fuzzing
                                   "q=x&cluster=a%00b", "q=x&author=a%00b", "q=x&tag=%00"])  # PostgreSQL: 500
def test_api_search_rejects_bad_parameters(world, client, api_token, query):
    response = client.get(f"/api/v1/search?{query}", headers=api_token(world.member))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "validation"


def test_control_characters_in_the_query_are_dropped(world, indexed, client, api_token):
    """Found by fuzzing: a NUL in the query reached PostgreSQL; a pasted zero-width space counts for nothing."""
    for q in ("Azu\u200bbis", "Azubis\x00"):
        answer = client.get("/api/v1/search", query_string={"q": q}, headers=api_token(world.member)).get_json()
        assert [item["thread_title"] for item in answer["items"]] == ["Azubis finden im Münsterland"], q


def test_api_search_needs_authentication(client, world):
    assert client.get("/api/v1/search?q=Wärmepumpe").status_code == 401


def test_api_search_hides_other_clusters(world, indexed, client, api_token):
    body = client.get("/api/v1/search?q=Wärmepumpe", headers=api_token(world.member)).get_json()
    assert body["total"] == 0 and body["items"] == []
    body = client.get("/api/v1/search?q=Wärmepumpe", headers=api_token(world.outsider)).get_json()
    assert body["total"] == 1 and body["items"][0]["thread_id"] == world.thread_b.id


def test_completions_come_from_visible_posts(world, indexed, login):
    client = login(world.outsider)
    assert "Wärmepumpe" in client.get("/search/vorschlaege?q=wärm").get_json()
    client = login(world.member)
    assert client.get("/search/vorschlaege?q=wärm").get_json() == []

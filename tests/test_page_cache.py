"""The page cache (forum/page_cache.py): a member's second look at a page costs one SQL
statement, and no write — by this process, another connection or another member — is ever
hidden by it."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, text

from forum import page_cache
from forum.extensions import db
from tests import factories


@pytest.fixture
def setting(world, client, login):
    login(world.member)
    return world


def _thread_path(world) -> str:
    return f"/t/{world.thread_a.id}"


def _cached(client, path: str):
    """The first view records the read position (a write), the second is kept, the third is
    answered from the cache."""
    client.get(path)
    return client.get(path)


PAGES = ["/", "/c/{slug}", "/b/{board}", "/t/{thread}", "/search?q=Antwort"]


def _fill(path: str, world) -> str:
    return path.format(slug=world.cluster_a.slug, board=world.board_a.id, thread=world.thread_a.id)


def _without_tokens(response) -> str:
    return re.sub(r'"[\w-]{20,}\.[\w-]+\.[\w-]{20,}"', '""', response.get_data(as_text=True))


@pytest.mark.parametrize("template", PAGES)
def test_second_view_is_one_statement_and_the_same_page(setting, client, count_queries, template):
    factories.reply(setting.thread_a, setting.manager, "Antwort der Leitung")
    path = _fill(template, setting)
    first = _cached(client, path)
    assert first.status_code == 200
    # PostgreSQL's snapshot moves with every transaction of the whole server, including other
    # test workers' databases: a few renders may happen before two requests meet the same one
    for _attempt in range(50):
        with count_queries(keep_pages=True) as counted:
            second = client.get(path)
        assert second.status_code == 200
        if counted.n == 1:
            break
    assert counted.n == 1, counted.statements   # only the database's change version
    # on PostgreSQL the kept page may come from a later render than ``first``: its CSRF token
    # (signed with the second) may differ, nothing else
    assert _without_tokens(second) == _without_tokens(first)
    # the shared response hooks still ran on the cached answer
    assert "default-src 'self'" in second.headers["Content-Security-Policy"]
    assert second.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", PAGES)
def test_every_cached_page_shows_a_reply_written_meanwhile(setting, client, path):
    world = setting
    path = path.format(slug=world.cluster_a.slug, board=world.board_a.id, thread=world.thread_a.id)
    _cached(client, path)
    client.get(path)  # from the cache
    title = "Zwischendurch geschrieben: Fördermittel für die Wärmepumpe"
    thread = factories.thread(world.board_a, world.manager, title=title, body="Antwort auf alle Fragen zur Förderung")
    if path.startswith("/t/"):
        factories.reply(world.thread_a, world.manager, "Neue Antwort vom Clustermanager")
        expected = "Neue Antwort vom Clustermanager"
    else:
        expected = title
    from forum.search import service
    service.drain()
    page = client.get(path).get_data(as_text=True)
    assert expected in page, path
    assert thread.id


def test_a_write_through_another_connection_is_seen(setting, client, app):
    """Another process commits (here: its own engine and connection, outside the app's pool)."""
    path = _thread_path(setting)
    _cached(client, path)
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with other.begin() as connection:
            connection.execute(text("UPDATE threads SET title = :title WHERE id = :id"),
                               {"title": "Von einem anderen Server umbenannt", "id": setting.thread_a.id})
    finally:
        other.dispose()
    db.session.expire_all()   # the tests share one session across requests; a request starts afresh
    assert "Von einem anderen Server umbenannt" in client.get(path).get_data(as_text=True)


def test_members_never_get_each_others_pages(world, app):
    path = f"/t/{world.thread_a.id}"
    pages = {}
    for person in (world.member, world.manager):
        browser = app.test_client()
        browser.post("/login", data={"login": person.username, "password": factories.PASSWORD})
        browser.get(path)
        pages[person.username] = browser.get(path).get_data(as_text=True)
    for person in (world.member, world.manager):
        page = pages[person.username]
        assert f'href="/u/{person.username}"' in page or person.username in page
    assert pages[world.member.username] != pages[world.manager.username]
    # the manager's page offers management tools the member's does not
    assert len(re.findall("Moderieren", pages[world.manager.username])) > \
        len(re.findall("Moderieren", pages[world.member.username]))


def test_a_signed_out_cookie_is_not_answered_from_the_cache(setting, client):
    path = _thread_path(setting)
    assert _cached(client, path).status_code == 200
    stolen = client.get_cookie("session", domain="forum.test").value
    client.post("/logout")
    client.set_cookie("session", stolen, domain="forum.test")
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_flashed_messages_are_shown_once_and_not_kept(setting, client):
    world = setting
    response = client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Danke für den Hinweis!"})
    assert response.status_code == 302
    target = response.headers["Location"].split("#")[0]
    with_flash = client.get(target).get_data(as_text=True)
    assert 'class="flash' in with_flash
    again = client.get(target).get_data(as_text=True)
    assert 'class="flash' not in again
    assert "Danke für den Hinweis!" in again


def test_another_browser_of_the_same_member_gets_its_own_csrf_token(world, app):
    app.config["WTF_CSRF_ENABLED"] = True
    path = f"/t/{world.thread_a.id}"
    tokens = []
    for _ in range(2):
        browser = app.test_client()
        login_page = browser.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
        browser.post("/login", data={"login": world.member.username, "password": factories.PASSWORD,
                                     "csrf_token": token})
        page = _cached(browser, path).get_data(as_text=True)
        tokens.append(re.search(r'name="csrf-token" content="([^"]+)"', page).group(1))
        with browser.session_transaction() as session:
            assert session["csrf_token"]
    assert tokens[0] != tokens[1]


def test_another_user_agent_takes_the_normal_path(setting, client):
    """Strong session protection: a cookie replayed from another browser is signed out."""
    path = _thread_path(setting)
    _cached(client, path)
    response = client.get(path, headers={"User-Agent": "Ein ganz anderer Browser"})
    assert response.status_code == 302


def test_expired_entries_are_rendered_again(setting, client, app, count_queries):
    path = _thread_path(setting)
    app.config["PAGE_CACHE_SECONDS"] = 0
    _cached(client, path)
    with count_queries(keep_pages=True) as counted:
        client.get(path)
    assert counted.n > 1


def test_switched_off(setting, client, app, count_queries):
    app.config["PAGE_CACHE"] = False
    path = _thread_path(setting)
    _cached(client, path)
    assert len(app.extensions["page_cache"]) == 0
    with count_queries(keep_pages=True) as counted:
        client.get(path)
    assert counted.n > 1 and "PRAGMA data_version" not in counted.statements


def test_the_store_is_bounded_in_bytes():
    store = page_cache.PageStore(max_bytes=10_000)
    for n in range(20):
        store.put(("page", n), page_cache.Entry(1, 0.0, 200, [], b"x" * 1_000))
    assert store.size <= 10_000 and len(store) == 10
    assert store.get(("page", 0)) is None and store.get(("page", 19)) is not None
    store.put(("huge",), page_cache.Entry(1, 0.0, 200, [], b"x" * 5_000))   # over a quarter: not kept
    assert store.get(("huge",)) is None


def test_every_cacheable_endpoint_exists(app):
    """A misspelt endpoint would silently never be cached (the search page was, once)."""
    assert set(app.view_functions) >= page_cache.CACHEABLE

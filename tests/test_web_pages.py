"""Every page renders in German for the roles that may see it, hides what they may not,
and never carries inline script, inline style or event-handler attributes (strict CSP)."""
from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import pytest

from forum.extensions import db
from tests import factories


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:800])
    return response.get_data(as_text=True)


def member_urls(world) -> list[str]:
    first = factories.first_post(world.thread_a)
    return [
        "/", f"/c/{world.cluster_a.slug}", f"/c/{world.cluster_a.slug}/mitglieder", f"/b/{world.board_a.id}",
        f"/b/{world.board_a.id}?thema=nachfolge", f"/b/{world.board_a.id}/neu", f"/t/{world.thread_a.id}",
        f"/t/{world.thread_a.id}?view=flat", f"/t/{world.thread_a.id}/antworten?parent={first.id}&zitat=1",
        f"/p/{first.id}/bearbeiten", f"/p/{first.id}/loeschen", f"/p/{first.id}/versionen",
        f"/b/{world.platform_board.id}", f"/t/{world.platform_thread.id}",
        f"/u/{world.member.username}", f"/u/{world.manager.username}", "/konto", "/konto/passwort",
    ]


def admin_urls(world) -> list[str]:
    return ["/", "/admin/konten", "/admin/konten?q=mia", "/admin/cluster", f"/admin/cluster/{world.cluster_a.slug}",
            f"/c/{world.cluster_a.slug}", f"/b/{world.platform_board.id}", f"/u/{world.member.username}"]


def test_member_pages_render_in_german(world, login, client):
    login(world.member)
    for url in member_urls(world):
        html = page(client, url)
        assert '<html lang="de">' in html, url
        assert 'name="csrf-token"' in html and 'role="search"' in html and 'href="#inhalt"' in html, url
        assert "Abmelden" in html and "Deutsch" in html and "English" in html, url


def test_manager_sees_pages_and_moderator_actions(world, login, client):
    reply = factories.reply(world.thread_a, world.member, "Von Mia")
    login(world.manager)
    html = page(client, f"/t/{world.thread_a.id}")
    assert f'href="/p/{reply.id}/bearbeiten"' in html and f'href="/p/{reply.id}/loeschen"' in html
    page(client, f"/c/{world.cluster_a.slug}/mitglieder")


def test_admin_pages_render(world, login, client):
    login(world.admin)
    for url in admin_urls(world):
        html = page(client, url)
        assert '<html lang="de">' in html, url
    assert ">Admin<" in page(client, "/")


def test_landing_page_for_visitors_has_no_content(world, client):
    html = page(client, "/")
    assert '<html lang="de">' in html and "Innovationscluster Handwerk NRW" in html
    assert 'href="/login"' in html
    assert world.thread_a.title not in html and world.platform_thread.title not in html
    assert 'role="search"' not in html
    for url in ("/login", "/passwort-vergessen"):
        assert '<html lang="de">' in page(client, url)


def test_visitor_is_sent_to_log_in_for_member_pages(world, client):
    for url in (f"/c/{world.cluster_a.slug}", f"/b/{world.board_a.id}", f"/t/{world.thread_a.id}", "/konto"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_home_lists_recent_threads_with_place_count_and_last_poster(world, login, client):
    factories.reply(world.thread_a, world.manager, "Neu")
    login(world.member)
    html = page(client, "/")
    assert world.thread_a.title in html and world.platform_thread.title in html
    assert world.thread_b.title not in html
    assert "Nachwuchs gewinnen" in html and "Cluster Münsterland" in html
    assert world.manager.display_name in html and "<time datetime=" in html


def test_board_lists_pinned_first_and_filters_by_themenfeld(world, login, client):
    tagged = factories.thread(world.board_a, world.member, "Nachfolge regeln", tags=["nachfolge"])
    pinned = factories.thread(world.board_a, world.member, "Bitte zuerst lesen")
    pinned.is_pinned = True
    db.session.commit()
    factories.reply(world.thread_a, world.manager, "Neueste Aktivität")
    tagged.last_activity_at = world.thread_a.last_activity_at - dt.timedelta(hours=1)
    db.session.commit()
    login(world.member)
    html = page(client, f"/b/{world.board_a.id}")
    assert html.index(pinned.title) < html.index(world.thread_a.title) < html.index(tagged.title)
    assert "Angeheftet" in html and "Neues Thema" in html and "?thema=nachfolge" in html
    filtered = page(client, f"/b/{world.board_a.id}?thema=nachfolge")
    assert tagged.title in filtered and world.thread_a.title not in filtered


def test_board_keyset_link_leads_to_older_threads(world, login, client, app):
    app.config["THREADS_PER_PAGE"] = 2
    for n in range(3):
        newer = factories.thread(world.board_a, world.member, f"Neueres Thema {n}")
        newer.last_activity_at = world.thread_a.last_activity_at + dt.timedelta(minutes=n + 1)
    db.session.commit()
    login(world.member)
    html = page(client, f"/b/{world.board_a.id}")
    assert "Ältere Themen" in html
    link = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "nach=" in link
    older = page(client, link)
    assert world.thread_a.title in older


def test_thread_page_tree_flat_and_deep_replies(world, login, client):
    parent = factories.first_post(world.thread_a)
    chain = []
    for level in range(8):
        parent = factories.reply(world.thread_a, world.member if level % 2 else world.manager, f"Ebene {level + 1}",
                                 parent)
        chain.append(parent)
    login(world.member)
    tree = page(client, f"/t/{world.thread_a.id}?view=tree")
    assert 'class="post depth-6' in tree and "depth-7" not in tree and "depth-8" not in tree
    assert f"Antwort an {world.member.display_name}" in tree  # depth 8 answers depth 7 (Mia)
    assert f'id="p{chain[-1].id}"' in tree and 'href="?view=flat"' not in tree
    assert "Tischlerei Member" in tree and "Tischler" in tree
    assert f'/t/{world.thread_a.id}/antworten?parent={chain[0].id}' in tree
    assert f'/t/{world.thread_a.id}/antworten?parent={chain[0].id}&amp;zitat=1' in tree
    flat = page(client, f"/t/{world.thread_a.id}?view=flat")
    assert "depth-1" not in flat and "Antwort an" in flat
    assert 'name="action" value="preview"' in flat


def test_thread_pagination_keeps_the_view(world, login, client, app):
    app.config["POSTS_PER_PAGE"] = 3
    for n in range(7):
        factories.reply(world.thread_a, world.manager, f"Antwort {n}")
    login(world.member)
    flat = page(client, f"/t/{world.thread_a.id}?view=flat")
    assert f"/t/{world.thread_a.id}?page=2&amp;view=flat" in flat
    tree = page(client, f"/t/{world.thread_a.id}")
    assert f"/t/{world.thread_a.id}?page=2" in tree and "page=2&amp;view=flat" not in tree
    assert "Antwort 6" in page(client, f"/t/{world.thread_a.id}?view=flat&page=3")


def test_locked_thread_shows_reason_and_no_reply_form(world, login, client):
    world.thread_a.is_locked = True
    world.thread_a.lock_reason = "Bitte im neuen Thema weiter"
    db.session.commit()
    login(world.member)
    html = page(client, f"/t/{world.thread_a.id}")
    assert "Dieses Thema ist gesperrt." in html and "Bitte im neuen Thema weiter" in html
    assert "Auf das Thema antworten" not in html and ">Antworten</a>" not in html


def test_hidden_post_shows_placeholder_except_for_author(world, login, client):
    post = factories.reply(world.thread_a, world.manager, "Geheimer Inhalt")
    post.hidden_at = post.created_at
    post.hidden_reason = "Werbung"
    db.session.commit()
    login(world.member)
    html = page(client, f"/t/{world.thread_a.id}")
    assert "Beitrag ausgeblendet" in html and "Werbung" in html and "Geheimer Inhalt" not in html
    login(world.manager)
    assert "Geheimer Inhalt" in page(client, f"/t/{world.thread_a.id}")


@pytest.mark.parametrize("who", ["outsider", "loner", "admin"])
def test_private_cluster_content_is_not_found(world, login, client, who):
    post = factories.reply(world.thread_a, world.member, "Vertraulich")
    login(getattr(world, who))
    urls = [f"/b/{world.board_a.id}", f"/b/{world.board_a.id}/neu", f"/t/{world.thread_a.id}",
            f"/t/{world.thread_a.id}/antworten", f"/p/{post.id}", f"/p/{post.id}/versionen",
            f"/p/{post.id}/bearbeiten", f"/c/{world.cluster_a.slug}/mitglieder"]
    if who != "admin":
        urls.append(f"/c/{world.cluster_a.slug}")
    for url in urls:
        html = page(client, url, 404)
        assert "Vertraulich" not in html and world.thread_a.title not in html, url
        assert "Diese Seite gibt es nicht" in html and 'href="/"' in html, url


def test_admin_sees_closed_cluster_page_without_content(world, login, client):
    login(world.admin)
    html = page(client, f"/c/{world.cluster_a.slug}")
    assert world.cluster_a.name in html and "vertraulich" in html
    assert world.thread_a.title not in html and world.board_a.name not in html
    assert world.cluster_a.name not in page(client, "/").split('aria-label="Hauptnavigation"')[1].split("</nav>")[0]


def test_non_admin_gets_404_for_admin_pages(world, login, client):
    login(world.manager)
    for url in ("/admin/konten", "/admin/cluster", f"/admin/cluster/{world.cluster_a.slug}"):
        page(client, url, 404)
    assert ">Admin<" not in page(client, "/")


def test_nav_lists_only_own_clusters(world, login, client):
    login(world.member)
    nav = page(client, "/").split('aria-label="Hauptnavigation"')[1].split("</nav>")[0]
    assert world.cluster_a.name in nav and world.cluster_b.name not in nav


def fresh(app, client, url):
    """A request in its own app context, as in production (no locale or user cached on ``g``)."""
    with app.app_context():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.get_data(as_text=True)


def test_language_switch_to_english_persists(world, login, client, app):
    assert 'name="next" value="/login"' in fresh(app, client, "/login")
    with app.app_context():
        response = client.post("/sprache", data={"locale": "en", "next": "/login"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert '<html lang="en">' in fresh(app, client, "/login")
    assert '<html lang="en">' in fresh(app, client, "/")
    member = app.test_client()
    with app.app_context():
        member.post("/login", data={"login": world.member.username, "password": factories.PASSWORD})
        member.post("/sprache", data={"locale": "en", "next": f"/t/{world.thread_a.id}?view=flat"})
    assert '<html lang="en">' in fresh(app, member, f"/t/{world.thread_a.id}")
    other = app.test_client()  # the choice is stored on the account, so it follows the log-in
    with app.app_context():
        other.post("/login", data={"login": world.member.username, "password": factories.PASSWORD})
    assert '<html lang="en">' in fresh(app, other, "/")
    with app.app_context():
        other.post("/sprache", data={"locale": "de", "next": "/"})
    assert '<html lang="de">' in fresh(app, other, "/")


def test_language_switch_rejects_unknown_language_and_foreign_redirects(client, world):
    assert client.post("/sprache", data={"locale": "fr"}).status_code == 400
    response = client.post("/sprache", data={"locale": "de", "next": "//evil.example"})
    assert response.headers["Location"].endswith("/") and "evil" not in response.headers["Location"]


class _TagScanner(HTMLParser):
    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        names = {name.lower(): value for name, value in attrs}
        if tag == "script":
            self.scripts += 1
            if not names.get("src") or "defer" not in names:
                self.problems.append("inline or blocking <script>")
        if "style" in names:
            self.problems.append(f"style= on <{tag}>")
        if tag == "style":
            self.problems.append("<style> element")
        self.problems.extend(f"{name}= on <{tag}>" for name in names if name.startswith("on"))
        if names.get("href", "").lower().startswith("javascript:"):
            self.problems.append("javascript: link")


def test_no_inline_script_style_or_handlers_on_any_page(world, login, client):
    post = factories.reply(world.thread_a, world.member,
                           'Versuch <script>alert(1)</script> <b style="color:red" onclick="x()">fett</b> '
                           '[x](javascript:alert(1))')
    factories.reply(world.thread_a, world.manager, "Antwort", parent=post)
    pages = []
    for url in ("/", "/login", "/passwort-vergessen", "/gibt-es-nicht"):
        pages.append((url, client.get(url).get_data(as_text=True)))
    login(world.member)
    for url in member_urls(world) + [f"/p/{post.id}/bearbeiten", "/gibt-es-nicht"]:
        pages.append((url, client.get(url).get_data(as_text=True)))
    pages.append(("preview", client.post(f"/t/{world.thread_a.id}/antworten",
                                         data={"body": "<i onmouseover='x'>y</i>",
                                               "action": "preview"}).get_data(as_text=True)))
    login(world.admin)
    for url in admin_urls(world):
        pages.append((url, client.get(url).get_data(as_text=True)))
    for url, html in pages:
        scanner = _TagScanner()
        scanner.feed(html)
        assert scanner.problems == [], (url, scanner.problems)
        assert scanner.scripts == 1, url
        assert "/static/js/forum.js" in html, url


def test_nul_characters_are_refused_in_german_before_the_database(world, app, login, client):
    """Found by fuzzing: PostgreSQL refuses NUL in strings, and these requests answered 500 there."""
    visitor = app.test_client()
    login_page = visitor.post("/login", data={"login": "mia.member\x00", "password": factories.PASSWORD})
    assert login_page.status_code == 200
    assert "Benutzername oder Passwort stimmen nicht" in login_page.get_data(as_text=True)
    assert visitor.post("/passwort-vergessen", data={"login": "a\x00b"}).status_code == 302
    interest = visitor.post("/mitmachen", data={"name": "Nina", "email": "n@example.org", "cluster": "\x00"})
    assert interest.status_code == 400 and "Diesen Cluster gibt es nicht." in interest.get_data(as_text=True)
    login(world.member)
    reaction = client.post(f"/p/{world.thread_a.first_post_id}/reaktion", data={"kind": "\x00"}, follow_redirects=True)
    assert "Unbekannte Reaktion." in reaction.get_data(as_text=True)
    for response in (client.get(f"/b/{world.board_a.id}", query_string={"thema": "\x00"}), client.get("/c/%00"),
                     client.get("/u/mia%00"), client.get("/search", query_string={"q": "Azubi\x00"}),
                     visitor.get("/einladung/%00")):
        assert response.status_code == 400, response.request.path
        assert "unzulässiges Steuerzeichen" in response.get_data(as_text=True), response.request.path
    assert client.get(f"/b/{world.board_a.id}", query_string={"thema": "nachwuchs"}).status_code == 200


def test_security_headers_forbid_inline_code(world, login, client):
    login(world.member)
    policy = client.get(f"/t/{world.thread_a.id}").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy


def test_static_assets_are_served(client):
    css = client.get("/static/css/forum.css")
    js = client.get("/static/js/forum.js")
    assert css.status_code == 200 and b":focus-visible" in css.data and b".depth-6" in css.data
    assert js.status_code == 200 and b"X-CSRFToken" in js.data
    css.close()
    js.close()


def test_pages_make_a_fixed_number_of_queries(world, login, client, app):
    from sqlalchemy import event

    app.config["PAGE_CACHE"] = False   # the pages' own work is counted (tests/test_page_cache.py: the cache)
    login(world.member)
    urls = ["/", f"/t/{world.thread_a.id}", f"/t/{world.thread_a.id}?view=flat", f"/b/{world.board_a.id}",
            f"/c/{world.cluster_a.slug}", f"/c/{world.cluster_a.slug}/mitglieder"]

    def queries(url):
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            db.session.expire_all()
            assert client.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    before = [queries(url) for url in urls]
    for n in range(4):
        person = factories.member(world.cluster_a, factories.user(f"mehr{n}", company="Betrieb"))
        top = factories.reply(world.thread_a, person, "Mehr")
        factories.reply(world.thread_a, world.member, "Noch mehr", parent=top)
        factories.thread(world.board_a, person, f"Weiteres Thema {n}")
    assert [queries(url) for url in urls] == before

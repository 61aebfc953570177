"""Writing through the forms: threads, nested replies, preview without JavaScript, editing
with revisions, soft deletes, and bad input that is refused in German with nothing saved."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.models import Post, PostRevision, Thread
from tests import factories


def counts():
    return (db.session.scalar(select(func.count()).select_from(Thread)),
            db.session.scalar(select(func.count()).select_from(Post)))


def test_new_thread_through_the_form(world, login, client):
    login(world.member)
    html = client.get(f"/b/{world.board_a.id}/neu").get_data(as_text=True)
    assert 'for="title"' in html and 'for="body"' in html and "Nachwuchs &amp; Ausbildung" in html
    assert "Hilfe zur Formatierung" in html
    response = client.post(f"/b/{world.board_a.id}/neu", data={
        "title": "  Ausbildungsmesse   Münster ", "body": "Wer kommt **mit**?",
        "tags": ["nachwuchs-und-ausbildung", "fachkraefte"],
    })
    assert response.status_code == 302
    thread = db.session.scalars(select(Thread).order_by(Thread.id.desc())).first()
    assert thread.title == "Ausbildungsmesse Münster"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ausbildungsmesse Münster" in html and "<strong>mit</strong>" in html
    assert "Nachwuchs &amp; Ausbildung" in html and "Fachkräfte" in html


def test_reply_and_nested_reply_through_the_form(world, login, client):
    login(world.manager)
    response = client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Erste Ebene"})
    assert response.status_code == 302
    top = db.session.scalars(select(Post).order_by(Post.id.desc())).first()
    assert top.depth == 1 and f"#p{top.id}" in response.headers["Location"]
    login(world.member)
    html = client.get(f"/t/{world.thread_a.id}/antworten?parent={top.id}").get_data(as_text=True)
    assert f'name="parent_id" type="hidden" value="{top.id}"' in html and "Erste Ebene" in html
    response = client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Zweite Ebene", "parent_id": str(top.id)},
                           follow_redirects=True)
    html = response.get_data(as_text=True)
    nested = db.session.scalars(select(Post).order_by(Post.id.desc())).first()
    assert nested.parent_id == top.id and nested.depth == 2
    assert "Ihre Antwort ist veröffentlicht." in html
    assert re.search(rf'class="post depth-2"[^>]*id="p{nested.id}"', html)
    assert html.index(f'id="p{top.id}"') < html.index(f'id="p{nested.id}"')


def test_quote_prefills_the_reply(world, login, client):
    first = factories.first_post(world.thread_a)
    login(world.manager)
    html = client.get(f"/t/{world.thread_a.id}/antworten?parent={first.id}&zitat=1").get_data(as_text=True)
    assert "Mia Member schrieb:" in html and "&gt; Wie findet ihr Auszubildende?" in html


def test_preview_without_javascript_renders_and_saves_nothing(world, login, client):
    login(world.member)
    before = counts()
    response = client.post(f"/t/{world.thread_a.id}/antworten",
                           data={"body": "Das ist **wichtig**", "action": "preview"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<strong>wichtig</strong>" in html and "Vorschau" in html
    assert "Das ist **wichtig**" in html  # the text stays in the form
    response = client.post(f"/b/{world.board_a.id}/neu",
                           data={"title": "Entwurf", "body": "- eins\n- zwei", "action": "preview"})
    assert "<li>eins</li>" in response.get_data(as_text=True)
    post = factories.reply(world.thread_a, world.member, "Alt")
    before = counts()
    response = client.post(f"/p/{post.id}/bearbeiten", data={"body": "_Neu_", "action": "preview"})
    assert "<em>Neu</em>" in response.get_data(as_text=True)
    assert counts() == before and db.session.get(Post, post.id).body_markdown == "Alt"


def test_live_preview_endpoint(world, login, client):
    login(world.member)
    response = client.post("/vorschau", data={"body": "<script>x()</script>**fett**"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<strong>fett</strong>" in html and "<script" not in html


def test_edit_shows_bearbeitet_and_revisions_list_old_text(world, login, client):
    post = factories.reply(world.thread_a, world.member, "Erste Fassung mit Tippfeler")
    login(world.member)
    html = client.get(f"/p/{post.id}/bearbeiten").get_data(as_text=True)
    assert "Erste Fassung mit Tippfeler" in html
    response = client.post(f"/p/{post.id}/bearbeiten", data={"body": "Erste Fassung ohne Tippfehler"},
                           follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Ihre Änderung ist gespeichert." in html and "bearbeitet" in html
    assert f'href="/p/{post.id}/versionen"' in html
    html = client.get(f"/p/{post.id}/versionen").get_data(as_text=True)
    assert "Erste Fassung mit Tippfeler" in html and "Erste Fassung ohne Tippfehler" in html and "Fassung 1" in html


def test_delete_leaves_placeholder_and_keeps_the_child_reply(world, login, client):
    post = factories.reply(world.thread_a, world.member, "Wird gelöscht")
    child = factories.reply(world.thread_a, world.manager, "Ich bleibe stehen", parent=post)
    login(world.member)
    html = client.get(f"/p/{post.id}/loeschen").get_data(as_text=True)
    assert "Endgültig löschen" in html and "Wird gelöscht" in html
    response = client.post(f"/p/{post.id}/loeschen", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Beitrag gelöscht" in html and "Wird gelöscht</p>" not in html
    assert "Ich bleibe stehen" in html and f'id="p{child.id}"' in html
    assert f'href="/p/{post.id}/bearbeiten"' not in html
    assert client.get(f"/p/{post.id}/bearbeiten").status_code == 403


def test_someone_elses_post_offers_no_edit_and_refuses_it(world, login, client):
    post = factories.reply(world.thread_a, world.manager, "Von der Managerin")
    login(world.member)
    html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert f'href="/p/{post.id}/bearbeiten"' not in html
    response = client.post(f"/p/{post.id}/bearbeiten", data={"body": "Übernommen"})
    assert response.status_code == 403 and "Das dürfen Sie leider nicht." in response.get_data(as_text=True)
    assert db.session.get(Post, post.id).body_markdown == "Von der Managerin"
    assert db.session.scalar(select(func.count()).select_from(PostRevision)) == 0


TITLE_CASES = [
    ("", "Der Titel darf nicht leer sein."),
    ("   \t ", "Der Titel darf nicht leer sein."),
    ("x" * 201, "Der Titel darf höchstens 200 Zeichen lang sein"),
    ("Glocke \x07 läutet", "Der Titel enthält unzulässige Steuerzeichen."),
]


@pytest.mark.parametrize("title,message", TITLE_CASES)
def test_bad_title_is_refused_in_german(world, login, client, title, message):
    login(world.member)
    before = counts()
    response = client.post(f"/b/{world.board_a.id}/neu", data={"title": title, "body": "Inhalt"})
    html = response.get_data(as_text=True)
    assert response.status_code < 500 and message in html and 'aria-invalid="true"' in html
    assert counts() == before


BODY_CASES = [
    ("", "Der Beitrag darf nicht leer sein."),
    ("  \n\n  ", "Der Beitrag darf nicht leer sein."),
    ("x" * 50_001, "Der Beitrag darf höchstens 50.000 Zeichen lang sein"),
    ("Text mit \x00 Nullzeichen", "Der Beitrag enthält unzulässige Steuerzeichen."),
    ("Richtungswechsel \u202e", "Der Beitrag enthält unzulässige Steuerzeichen."),
]


@pytest.mark.parametrize("body,message", BODY_CASES)
def test_bad_body_is_refused_in_german(world, login, client, body, message):
    post = factories.reply(world.thread_a, world.member, "Bestehend")
    login(world.member)
    before = counts()
    for url, data in ((f"/b/{world.board_a.id}/neu", {"title": "Gültiger Titel", "body": body}),
                      (f"/t/{world.thread_a.id}/antworten", {"body": body}),
                      (f"/p/{post.id}/bearbeiten", {"body": body})):
        response = client.post(url, data=data)
        html = response.get_data(as_text=True)
        assert 400 <= response.status_code < 500 or response.status_code == 200, url
        assert message in html, url
    assert counts() == before and db.session.get(Post, post.id).body_markdown == "Bestehend"


def test_reply_with_parent_from_another_thread_is_refused(world, login, client):
    foreign = factories.first_post(world.platform_thread)
    login(world.member)
    before = counts()
    response = client.post(f"/t/{world.thread_a.id}/antworten",
                           data={"body": "Falsch verbunden", "parent_id": str(foreign.id)})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Der Beitrag, auf den Sie antworten, gehört nicht zu diesem Thema." in html
    assert counts() == before


def test_reply_into_locked_thread_is_refused(world, login, client):
    world.thread_a.is_locked = True
    db.session.commit()
    login(world.member)
    before = counts()
    response = client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Trotzdem"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Dieses Thema ist gesperrt; Antworten sind nicht mehr möglich." in html
    response = client.get(f"/t/{world.thread_a.id}/antworten")
    assert response.status_code == 403
    assert "In diesem Thema können Sie nicht antworten." in response.get_data(as_text=True)
    assert counts() == before


@pytest.mark.parametrize("parent_id", ["²", "99999999999999999999", "9" * 5000])
def test_reply_to_a_parent_that_is_no_id_is_refused(world, login, client, parent_id):
    """Found by fuzzing: these parent ids crashed the reply form (int("²"), an id beyond the column)."""
    login(world.member)
    before = counts()
    url = f"/t/{world.thread_a.id}/antworten"
    assert client.get(url, query_string={"parent": parent_id}).status_code == 200
    response = client.post(url, data={"body": "Antwort", "parent_id": parent_id})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "parent_id muss eine Beitragsnummer sein." in html or "gehört nicht zu diesem Thema" in html
    assert counts() == before


def test_ids_beyond_the_database_are_german_404_pages(world, login, client):
    """Found by fuzzing: ids past the INTEGER columns reached the database and answered 500."""
    login(world.member)
    big = "99999999999999999999"
    for url in (f"/t/{big}", "/t/2147483648", f"/p/{big}", f"/b/{big}", f"/p/{big}/bearbeiten",
                f"/benachrichtigungen/{big}", f"/meldungen/{big}", f"/t/{big}/antworten"):
        response = client.get(url)
        assert response.status_code == 404 and "Fehler 404" in response.get_data(as_text=True), url
    assert client.post(f"/p/{big}/reaktion", data={"kind": "daumen"}).status_code == 404


@pytest.mark.parametrize("query", [{"page": "²"}, {"page": "9" * 5000}, {"nach": "20240101000000-99999999999999999999"},
                                   {"nach": "20240101000000-²"}])
def test_odd_page_numbers_and_cursors_show_the_first_page(world, login, client, query):
    """Found by fuzzing: "²".isdigit() is true, int("²") is not; a cursor id beyond the column."""
    login(world.member)
    for url in (f"/t/{world.thread_a.id}", "/benachrichtigungen", f"/b/{world.board_a.id}"):
        response = client.get(url, query_string=query)
        assert response.status_code == 200, url
    assert world.thread_a.title in client.get(f"/b/{world.board_a.id}", query_string=query).get_data(as_text=True)


def test_unknown_ids_are_german_404_pages(world, login, client):
    login(world.member)
    for url in ("/t/999999", "/p/999999", "/b/999999", "/c/gibt-es-nicht", "/p/999999/bearbeiten"):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 404 and "Fehler 404" in html and '<html lang="de">' in html, url

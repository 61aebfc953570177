"""In Chromium: log in, open a thread, answer a nested post inline, see the answer in place."""
from __future__ import annotations

import re

import pytest

from forum.extensions import db
from forum.models import Post
from tests import factories
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


def test_member_replies_to_a_nested_post_and_sees_it_in_place(live_app, page):
    app, base, ids = live_app
    with app.app_context():
        from forum.models import Thread, User
        thread = db.session.get(Thread, ids["thread_a"])
        manager = db.session.get(User, ids["manager"])
        nested = factories.reply(thread, manager, "Wir gehen dafür in die Realschulen.")
        nested_id = nested.id
        db.session.remove()

    log_in(page, base, "mia.member")
    page.goto(f"{base}/t/{ids['thread_a']}")
    assert page.locator("html").get_attribute("lang") == "de"
    target = page.locator(f"#p{nested_id}")
    target.get_by_role("link", name="Antworten").click()
    inline = target.locator(".inline-reply textarea")
    inline.fill("Gute Idee – **Schulbesuche** machen wir auch.")
    target.locator(".inline-reply").get_by_role("button", name="Antworten").click()
    page.wait_for_load_state("load")

    with app.app_context():
        reply = db.session.query(Post).filter(Post.parent_id == nested_id).one()
        reply_id, depth = reply.id, reply.depth
        db.session.remove()
    assert depth == 2
    answer = page.locator(f"#p{reply_id}")
    answer.wait_for()
    assert "Schulbesuche" in answer.locator(".post-body strong").inner_text()
    assert re.search(r"\bdepth-2\b", answer.get_attribute("class"))
    # in place: directly after the post it answers, in document order
    order = page.eval_on_selector_all("article.post", "els => els.map(e => e.id)")
    assert order.index(f"p{reply_id}") == order.index(f"p{nested_id}") + 1
    assert page.js_errors == []


def test_reply_works_without_javascript(live_app, page):
    app, base, ids = live_app
    page.context.set_offline(False)
    page.route(re.compile(r"\.js(\?.*)?$"), lambda route: route.abort())
    log_in(page, base, "mia.member")
    page.goto(f"{base}/t/{ids['thread_a']}")
    page.locator("article.post").first.get_by_role("link", name="Antworten").click()
    page.wait_for_url(re.compile(r"/antworten"))
    page.get_by_label("Ihre Antwort").fill("Ohne JavaScript geht es auch.")
    page.get_by_role("button", name="Vorschau").click()
    assert "Ohne JavaScript geht es auch." in page.locator(".preview").inner_text()
    page.get_by_role("button", name="Antworten").click()
    page.wait_for_url(re.compile(r"/t/\d+"))
    assert page.get_by_text("Ohne JavaScript geht es auch.").count() >= 1

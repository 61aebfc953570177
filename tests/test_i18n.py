"""German by default, English through the compiled catalog; German dates."""
from __future__ import annotations

import datetime as dt

from flask_babel import force_locale

from forum.web.presenters import zeit as _zeit


def test_pages_are_german_by_default(world, login):
    client = login(world.member)
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="de">' in html and "Abmelden" in html


def test_account_language_english_translates_the_ui(world, login, db, app):
    world.member.locale = "en"
    db.session.commit()
    client = login(world.member)
    with app.app_context():  # a fresh context per request, as in production
        html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Log out" in html and "Abmelden" not in html


def test_visitor_can_switch_to_english(client, app):
    client.post("/sprache", data={"locale": "en", "next": "/login"})
    with app.app_context():
        html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html and "Log in" in html


def test_dates_are_written_the_german_way(app):
    with app.test_request_context(), force_locale("de"):
        stamp = _zeit(dt.datetime(2026, 3, 1, 9, 5))  # UTC → Europe/Berlin (UTC+1 in March)
        summer = _zeit(dt.datetime(2026, 7, 1, 23, 30))  # UTC+2 in summer, the next day
    assert "01.03.2026, 10:05" in stamp and 'datetime="2026-03-01T09:05:00Z"' in stamp
    assert "02.07.2026, 01:30" in summer


def test_english_catalog_is_complete():
    """Every German msgid of the catalog has an English text (run `make i18n-update` after
    changing user-visible text, then translate what is new)."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    path = Path(__file__).resolve().parent.parent / "forum/translations/en/LC_MESSAGES/messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    missing = [m.id for m in catalog if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple)
                                                                       else [m.string]))]
    assert not missing, missing[:10]


def test_wtforms_own_messages_follow_the_language_without_reloading_the_catalog(app):
    from flask_wtf import FlaskForm
    from wtforms import SelectField

    from forum import i18n

    class Choice(FlaskForm):
        kind = SelectField(choices=[("a", "A")])

    app.config["WTF_CSRF_ENABLED"] = False
    with app.test_request_context(method="POST", data={"kind": "x"}):
        app.preprocess_request()
        form = Choice()
        assert not form.validate() and form.kind.errors == ["Keine gültige Auswahl."]
    i18n._wtforms_catalog.cache_clear()
    with app.test_request_context(method="POST", data={"kind": "x"}), force_locale("en"):
        app.preprocess_request()
        form = Choice()
        assert not form.validate() and form.kind.errors == ["Not a valid choice."]
    with app.test_request_context(method="POST", data={"kind": "x"}), force_locale("en"):
        app.preprocess_request()
        Choice().validate()
    assert i18n._wtforms_catalog.cache_info().misses == 1  # loaded once, then shared

"""German by default, English selectable; dates in German format."""
from __future__ import annotations

from functools import lru_cache

from babel import support
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale, get_translations
from flask_login import current_user
from jinja2.ext import _make_new_gettext, _make_new_ngettext  # Jinja's own new-style wrappers
from wtforms.i18n import messages_path

from forum.extensions import babel


def select_locale() -> str:
    """The account's language, or the visitor's choice kept in the session; else German."""
    if not has_request_context():
        return "de"
    chosen = current_user.locale if current_user.is_authenticated else session.get("locale")
    return chosen if chosen in current_app.config["LANGUAGES"] else "de"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    app.context_processor(_bound_gettext)
    app.before_request(_share_wtforms_catalog)


def _bound_gettext() -> dict:
    """Jinja's ``_``, ``gettext`` and ``ngettext`` bound to this request's catalog once per
    rendered template. Flask-Babel's own callables look the catalog up again for each string
    (about 40 µs each, 60 strings on a thread page); these behave the same (new-style
    ``%(name)s`` variables, autoescaping), they only skip the repeated lookup."""
    translations = get_translations()
    gettext = _make_new_gettext(translations.ugettext)
    return {"_": gettext, "gettext": gettext, "ngettext": _make_new_ngettext(translations.ungettext)}


@lru_cache(maxsize=8)
def _wtforms_catalog(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _WtformsTranslations:
    """WTForms' own messages ("Not a valid choice" …) in the request's language. Flask-WTF
    reads ``request.wtforms_translations`` when it is set and otherwise loads the catalog file
    again on every request (about 1 ms); this resolves the language on first use and keeps one
    catalog per language for the process."""

    def ugettext(self, string: str) -> str:
        return _wtforms_catalog(str(get_locale() or "de")).ugettext(string)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalog(str(get_locale() or "de")).ungettext(singular, plural, n)


def _share_wtforms_catalog() -> None:
    request.wtforms_translations = _WTFORMS_TRANSLATIONS


_WTFORMS_TRANSLATIONS = _WtformsTranslations()

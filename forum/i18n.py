"""German by default, English selectable; dates in German format."""
from __future__ import annotations

from flask import Flask, current_app, has_request_context, session
from flask_login import current_user

from forum.extensions import babel


def select_locale() -> str:
    """The account's language, or the visitor's choice kept in the session; else German."""
    if not has_request_context():
        return "de"
    chosen = current_user.locale if current_user.is_authenticated else session.get("locale")
    return chosen if chosen in current_app.config["LANGUAGES"] else "de"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")

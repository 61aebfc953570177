"""Configuration: defaults that run on one machine, overridden by FORUM_* variables.

CONTRACT.md names the variables; ``load`` maps them onto the keys the Flask
extensions read, so the rest of the code reads one place only.
"""
from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, object] = {
    "SEARCH_DIR": str(ROOT / "search_index"),
    "SEARCH_BACKEND": "whoosh",
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_SENDER": "Clusterforum <no-reply@clusterforum.invalid>",
    "RATELIMIT_STORAGE_URL": "memory://",
    # Platform admins manage clusters but do not read their threads unless this is set.
    "ADMINS_READ_ALL": False,
    "BASE_URL": None,
    "PASSWORD_RESET_MAX_AGE": 2 * 60 * 60,
    "THREADS_PER_PAGE": 25,
    "POSTS_PER_PAGE": 20,
    "MAX_TITLE_LENGTH": 200,
    "MAX_BODY_LENGTH": 50_000,
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "BABEL_DEFAULT_LOCALE": "de",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Berlin",
    "LANGUAGES": ("de", "en"),
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
}


def load(app: Flask, overrides: dict | None = None) -> None:
    """Fill ``app.config``: defaults, then FORUM_* variables, then ``overrides`` (tests)."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("FORUM")
    if overrides:
        app.config.from_mapping(overrides)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    config = app.config
    config.setdefault("DATABASE_URL", f"sqlite:///{instance / 'forum.db'}")
    config.setdefault("SQLALCHEMY_DATABASE_URI", config["DATABASE_URL"])
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance / "secret_key")
    config["RATELIMIT_STORAGE_URI"] = config["RATELIMIT_STORAGE_URL"]
    config["MAIL_PORT"] = int(config["MAIL_PORT"])
    if str(config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql://"):
        # psycopg 3 is the driver we ship; a bare postgresql:// URL means it.
        config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + config["SQLALCHEMY_DATABASE_URI"][13:]


def _instance_secret(path: Path) -> str:
    """The session key, generated once and kept in the instance folder."""
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()

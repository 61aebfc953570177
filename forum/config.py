"""Configuration: defaults that run on one machine, overridden by FORUM_* variables.

CONTRACT.md names the variables; ``load`` maps them onto the keys the Flask
extensions read, so the rest of the code reads one place only.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, object] = {
    "SEARCH_DIR": str(ROOT / "search_index"),
    "SEARCH_BACKEND": "whoosh",
    # Memory of each Whoosh rebuild process (MB, Whoosh's own estimate) before it sorts on disk:
    # 512 keeps a million posts at about 1 GB per process and a third faster than 128.
    "SEARCH_REINDEX_MB": 512,
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_SENDER": "Clusterforum <no-reply@clusterforum.invalid>",
    "RATELIMIT_STORAGE_URL": "memory://",
    # Redis down: count in the process's memory meanwhile rather than answer 500.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    # Reverse proxies in front of the app (nginx = 1): their X-Forwarded-For is trusted.
    "PROXY_HOPS": 0,
    "RATELIMIT_KEY_PREFIX": "",  # several instances sharing one Redis keep their counters apart
    # Rate limits (forum/limits.py), Flask-Limiter strings, several joined with ";". Posts (new
    # thread, reply, edit), invitations (each address) and reports count per account, web and API
    # together; password resets per IP address and per entered address.
    "LIMIT_POSTS": "10 per minute; 200 per day",
    "LIMIT_INVITES": "100 per hour; 300 per day",
    "LIMIT_REPORTS": "20 per hour; 100 per day",
    "LIMIT_PASSWORD_RESET": "5 per minute",
    "LIMIT_PASSWORD_RESET_ADDRESS": "3 per hour",
    # Markdown previews (live preview and the forms' "Vorschau" button) per account.
    "LIMIT_PREVIEWS": "60 per minute",
    # Platform admins manage clusters but do not read their threads unless this is set.
    "ADMINS_READ_ALL": False,
    "BASE_URL": None,
    "PASSWORD_RESET_MAX_AGE": 2 * 60 * 60,
    # How long the link that confirms a new e-mail address works (forum/services/email_change.py).
    "EMAIL_CHANGE_MAX_AGE": 24 * 60 * 60,
    # Days an API token works after it was issued (POST /api/v1/tokens).
    "API_TOKEN_DAYS": 90,
    # Failed log-ins (web and POST /api/v1/tokens), counted in Flask-Limiter's storage: per
    # log-in name (whether or not the account exists) and per IP address.
    "LOGIN_THROTTLE_ACCOUNT": "5 per 15 minutes",
    "LOGIN_THROTTLE_IP": "30 per 15 minutes",
    # Platform admins must use two-factor log-in (TOTP); the name authenticator apps show.
    "TWO_FACTOR_REQUIRED_FOR_ADMINS": True,
    "TWO_FACTOR_ISSUER": "Clusterforum",
    # Rendered pages per member, kept per worker until the database changes (forum/page_cache.py).
    "PAGE_CACHE": True,
    "PAGE_CACHE_MB": 16,
    "PAGE_CACHE_SECONDS": 300,
    "THREADS_PER_PAGE": 25,
    "POSTS_PER_PAGE": 20,
    "MAX_TITLE_LENGTH": 200,
    "MAX_BODY_LENGTH": 50_000,
    # Levels of replies stored below the opening post; deeper replies sit at this level and
    # say whom they answer (forum.services.posting.tree_place).
    "MAX_REPLY_DEPTH": 16,
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
    private_folder(instance)
    config = app.config
    config.setdefault("DATABASE_URL", f"sqlite:///{instance / 'forum.db'}")
    config.setdefault("SQLALCHEMY_DATABASE_URI", config["DATABASE_URL"])
    _private_sqlite_files(str(config["SQLALCHEMY_DATABASE_URI"]), instance)
    if config["SEARCH_BACKEND"] == "whoosh":
        private_folder(Path(config["SEARCH_DIR"]))
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance / "secret_key")
    config["RATELIMIT_STORAGE_URI"] = config["RATELIMIT_STORAGE_URL"]
    config["RATELIMIT_KEY_PREFIX"] = str(config["RATELIMIT_KEY_PREFIX"] or "")  # FORUM_…=42 is read as JSON
    config["MAIL_PORT"] = int(config["MAIL_PORT"])
    config["API_TOKEN_DAYS"] = max(1, int(config["API_TOKEN_DAYS"]))
    config["PAGE_CACHE"] = config["PAGE_CACHE"] not in (False, 0, "0", "false", "False", "no")
    config["PAGE_CACHE_MB"] = float(config["PAGE_CACHE_MB"])
    config["SEARCH_REINDEX_MB"] = max(16, int(config["SEARCH_REINDEX_MB"]))
    config["PAGE_CACHE_SECONDS"] = float(config["PAGE_CACHE_SECONDS"])
    if str(config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql://"):
        # psycopg 3 is the driver we ship; a bare postgresql:// URL means it.
        config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + config["SQLALCHEMY_DATABASE_URI"][13:]


def _instance_secret(path: Path) -> str:
    """The session key, generated once and kept in the instance folder, readable by the
    forum's own user only (created so, never readable by others for a moment)."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):   # another process made it just now
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(handle, "w") as out:
                out.write(secrets.token_hex(32))
    _owner_only(path, 0o600)
    return path.read_text().strip()


# -- files with secrets: the forum's own user only -------------------------------------------------
# The database (password hashes, TOTP secrets, private threads), the secret key, backups and the
# search index (the text of private posts) are readable by the forum's user only: folders 0700,
# files 0600, whatever the umask. Existing ones are tightened at start.

def private_folder(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(path, 0o700)


def private_file(path: Path) -> None:
    """Creates ``path`` empty with mode 0600 if missing, or tightens an existing one."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    _owner_only(path, 0o600)


def _owner_only(path: Path, mode: int) -> None:
    with contextlib.suppress(PermissionError):   # not ours (a shared folder): left as it is
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)


def _private_sqlite_files(uri: str, instance: Path) -> None:
    """SQLite makes its -wal and -shm files with the mode of the database file, so a database
    file created 0600 here, before the first connection, keeps all three private."""
    try:
        url = make_url(uri)
    except Exception:   # noqa: BLE001 - a bad URL is reported when the engine is made
        return
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database) if Path(database).is_absolute() else instance / database   # Flask-SQLAlchemy's rule
    if not path.parent.is_dir():
        return
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            _owner_only(extra, 0o600)

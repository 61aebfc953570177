"""Failed log-ins, counted per log-in name and per IP address in Flask-Limiter's storage.

The storage is the one ``FORUM_RATELIMIT_STORAGE_URL`` names (memory, or Redis shared by every
process), so the counters hold across workers. The per-name counter is keyed by the account the
name resolves to – its username and e-mail address in any spelling share one counter – and by
the normalised name as typed where no account has it. A successful log-in clears the per-name counter;
the per-IP one runs out.
The limits are ``LOGIN_THROTTLE_ACCOUNT`` and ``LOGIN_THROTTLE_IP`` ("5 per 15 minutes").
With rate limiting switched off (``RATELIMIT_ENABLED = False``) nothing is counted.
"""
from __future__ import annotations

import hashlib
import math
import time
import unicodedata

from flask import current_app
from limits import RateLimitItem, parse

from forum.extensions import limiter
from forum.services import accounts

NAMESPACE = "login-failures"


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True)) and limiter.enabled and limiter.initialized


def normalise(login: str | None) -> str:
    return unicodedata.normalize("NFKC", login or "").strip().casefold()


def subject(login: str | None) -> str:
    """Whom a failure counts against: the account the name resolves to (username and e-mail
    address, in any spelling, share one counter), else the normalised name as typed. A digest
    keeps keys short and e-mail addresses out of the storage."""
    account = accounts.account_for_login(login)
    if account is not None:
        return f"account-{account.id}"
    return hashlib.sha256(normalise(login).encode()).hexdigest()[:32]


def _keys(login: str | None, ip: str | None) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "forum"
    name = subject(login)
    return [
        (parse(current_app.config["LOGIN_THROTTLE_ACCOUNT"]), (prefix, NAMESPACE, "account", name)),
        (parse(current_app.config["LOGIN_THROTTLE_IP"]), (prefix, NAMESPACE, "ip", ip or "unknown")),
    ]


def retry_after(login: str | None, ip: str | None) -> int | None:
    """Seconds until another attempt is allowed for this name and address; None if it is now."""
    if not _enabled():
        return None
    waits = []
    for item, identifiers in _keys(login, ip):
        if not limiter.limiter.test(item, *identifiers):
            reset_at = limiter.limiter.get_window_stats(item, *identifiers).reset_time
            waits.append(max(1, math.ceil(reset_at - time.time())))
    return max(waits) if waits else None


def failed(login: str | None, ip: str | None) -> None:
    """Counts a wrong password or a wrong second-factor code."""
    if not _enabled():
        return
    for item, identifiers in _keys(login, ip):
        limiter.limiter.hit(item, *identifiers)


def succeeded(login: str | None) -> None:
    """A complete log-in forgets the name's earlier failures."""
    if not _enabled():
        return
    item, identifiers = _keys(login, None)[0]
    limiter.limiter.clear(item, *identifiers)

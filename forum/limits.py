"""Rate limits on writing: who is counted, how much, and what a caller over the limit sees.

Posts (new thread, reply, edit), invitations and reports count per signed-in account – web
and API together, whichever way the account signed in (session or bearer token) – and fall
back to the IP address for anonymous callers. Password resets count per IP address and, so
nobody's mailbox can be flooded, per account the entered name or address belongs to (else per
normalised entry); the answer is the same whether or not an account exists.

The amounts are config keys (``LIMIT_*`` in ``forum/config.py``, e.g. ``FORUM_LIMIT_POSTS``),
read at request time. Only what was actually written counts: a failed or previewed post does
not — yet a write is counted before it runs and given back afterwards if it failed, so the limit
holds for requests that arrive at the same moment. Previews (the live preview and the forms'
"Vorschau" button) have a limit of their own, ``LIMIT_PREVIEWS``, each one counted. Over the
limit the answer is 429 with a German message, and ``Retry-After`` in seconds.
"""
from __future__ import annotations

import hashlib
import math
import re
import time
import unicodedata

from flask import Flask, Response, current_app, request
from flask_babel import gettext as _, ngettext
from flask_limiter.util import get_remote_address
from flask_login import current_user

from forum.extensions import limiter


def init_app(app: Flask) -> None:
    # Registered before the limiter's own hooks, so they run after them (Flask runs after-request
    # functions in reverse order): the last word on Retry-After, and the refund of what was not written.
    app.after_request(_retry_after_header)
    app.after_request(_give_back_unwritten)
    limiter.init_app(app)


# -- who is counted -----------------------------------------------------------------------------

def account_key() -> str:
    """The signed-in account (session or bearer token, see ``forum.auth``), else the IP address."""
    if current_user.is_authenticated:
        return f"account:{current_user.id}"
    return f"ip:{get_remote_address()}"


def reset_address() -> str:
    """The address entered on the password-reset form, normalised at least as coarsely as the
    account look-up does (``accounts.request_password_reset``), so no spelling counts apart."""
    return unicodedata.normalize("NFKC", request.form.get("login") or "").strip().casefold()


def reset_address_key() -> str:
    """The account the entered name or address belongs to (every spelling of it shares one
    counter), else the normalised entry. A digest: the limiter's storage (Redis) never holds
    the addresses themselves."""
    from forum.services.accounts import account_for_login

    account = account_for_login(reset_address())
    if account is not None:
        return f"reset:account-{account.id}"
    return "reset:" + hashlib.sha256(reset_address().encode()).hexdigest()[:32]


# -- what counts --------------------------------------------------------------------------------

def _config(name: str):
    return lambda: current_app.config[name]


def written(response: Response) -> bool:
    """Only what was saved counts: an API answer below 400, a web form's redirect after saving
    (failed forms and previews are answered with the page itself)."""
    if request.path.startswith("/api/"):
        return response.status_code < 400
    return response.status_code in (302, 303)


def _previewing() -> bool:
    return request.form.get("action") == "preview"


def _not_previewing() -> bool:
    """The live preview (``POST /vorschau``) always previews; a form only with its "Vorschau" button."""
    return not (_previewing() or request.endpoint == "threads.preview")


def _invitation_count() -> int:
    """The web form invites several addresses at once; each is a mail, each counts."""
    from forum.services.membership import MAX_INVITES_AT_ONCE

    text = request.form.get("emails")
    if text is None:
        return 1
    return max(1, min(len([p for p in re.split(r"[\s,;]+", text) if p]), MAX_INVITES_AT_ONCE))


def _when_no_address() -> bool:
    return not reset_address()


# -- the limits the views wear ------------------------------------------------------------------

def _posts_message() -> str:
    text = _("Sie haben in kurzer Zeit sehr viele Beiträge geschrieben. Bitte warten Sie etwas, "
             "bevor Sie weiterschreiben.")
    if request.path.startswith("/api/"):
        return text
    return f"{text} {_('Mit „Zurück“ im Browser finden Sie Ihren Text wieder.')}"


posts = limiter.shared_limit(
    _config("LIMIT_POSTS"), scope="posts", key_func=account_key, methods=["POST", "PATCH"],
    exempt_when=_previewing, error_message=_posts_message)


def _previews_message() -> str:
    text = _("Sie haben in kurzer Zeit sehr viele Vorschauen angefordert. Bitte warten Sie etwas.")
    if request.endpoint == "threads.preview":
        return text
    return f"{text} {_('Mit „Zurück“ im Browser finden Sie Ihren Text wieder.')}"


# Rendering costs time on every call, saved or not: previews count apart from posts, generously
# enough for the live preview while typing.
previews = limiter.shared_limit(
    _config("LIMIT_PREVIEWS"), scope="previews", key_func=account_key, methods=["POST"],
    exempt_when=_not_previewing, error_message=_previews_message)

invitations = limiter.shared_limit(
    _config("LIMIT_INVITES"), scope="invitations", key_func=account_key, methods=["POST"],
    cost=_invitation_count,
    error_message=lambda: _("Sie haben in kurzer Zeit sehr viele Einladungen verschickt. Bitte warten Sie etwas, "
                            "bevor Sie weitere verschicken."))

reports = limiter.shared_limit(
    _config("LIMIT_REPORTS"), scope="reports", key_func=account_key, methods=["POST"],
    error_message=lambda: _("Sie haben in kurzer Zeit sehr viele Beiträge gemeldet. Bitte warten Sie etwas, "
                            "bevor Sie weitere melden."))

password_reset = limiter.limit(
    _config("LIMIT_PASSWORD_RESET"), methods=["POST"], key_func=get_remote_address,
    error_message=lambda: _("Von Ihrem Anschluss wurden gerade sehr viele neue Passwörter angefordert. "
                            "Bitte warten Sie etwas."))

password_reset_address = limiter.shared_limit(
    _config("LIMIT_PASSWORD_RESET_ADDRESS"), scope="password-reset-address", key_func=reset_address_key,
    methods=["POST"], exempt_when=_when_no_address,
    error_message=lambda: _("Für diese Angabe wurde in letzter Zeit schon mehrmals ein neues Passwort angefordert. "
                            "Wenn es ein Konto dazu gibt, sind die Links unterwegs – bitte sehen Sie in Ihr Postfach, "
                            "auch in den Spam-Ordner."))


# -- counted when tried, given back when nothing was written ------------------------------------
#
# Flask-Limiter's ``deduct_when`` tests the counter before the view and raises it after: 25
# concurrent posts against "10 per minute" all passed the test before any was counted (16 got
# through). These limits raise the counter atomically before the view runs — only as many
# requests as the limit allows get past, however many arrive at once — and give it back after a
# response that wrote nothing (a failed form, an error, the 429 itself), so failures still do
# not count. Fixed windows (the default strategy): a counter per window, given back in place.

_REFUNDED = {"posts": lambda: 1, "invitations": _invitation_count, "reports": lambda: 1,
             "password-reset-address": lambda: 1}


def _give_back_unwritten(response: Response) -> Response:
    if not limiter.enabled or written(response):
        return response
    for counted in limiter.current_limits:
        cost_of = _REFUNDED.get(counted.request_args[-1])
        if cost_of is None:
            continue
        storage = limiter.limiter.storage
        if hasattr(storage, "decr"):             # memory: never below zero
            storage.decr(counted.key, cost_of())
        else:                                    # Redis: INCRBY with a negative amount
            storage.incr(counted.key, counted.limit.get_expiry(), -cost_of())
    return response


# -- the answer over the limit ------------------------------------------------------------------

def retry_after() -> int | None:
    """Whole seconds until the limit that was hit in this request frees up (at least 1); None
    when no limit of the limiter's was hit (a view may answer 429 for its own reasons)."""
    current = limiter.current_limit if limiter.enabled else None
    if current is None or not current.breached:
        return None
    return max(1, math.ceil(current.reset_at - time.time()))


def message(limit_message: str | None) -> str:
    """The German text of a 429: the limit's own message (or the general one) and when to retry."""
    text = limit_message or _("Zu viele Anfragen – bitte warten Sie einen Moment.")
    seconds = retry_after()
    if seconds is None:
        return text
    if seconds < 120:
        hint = ngettext("Versuchen Sie es in %(num)s Sekunde wieder.", "Versuchen Sie es in %(num)s Sekunden wieder.",
                        seconds)
    elif seconds < 2 * 3600:
        hint = _("Versuchen Sie es in %(num)s Minuten wieder.", num=math.ceil(seconds / 60))
    else:
        hint = _("Versuchen Sie es in %(num)s Stunden wieder.", num=math.ceil(seconds / 3600))
    return f"{text} {hint}"


def _retry_after_header(response: Response) -> Response:
    """Flask-Limiter rounds Retry-After down (0 in the last second of a window); a 429 of a
    limit always says how many whole seconds to wait, at least one."""
    if response.status_code == 429:
        seconds = retry_after()
        if seconds is not None:
            response.headers["Retry-After"] = str(seconds)
    return response

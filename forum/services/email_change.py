"""Changing an account's e-mail address (issue 15, point 11 a).

Whoever holds a signed-in session must not be able to take the account over by pointing its
address (and so the password reset) at a mailbox of their own. So:

1. ``request_change`` needs the current password. It mails a confirmation link to the NEW
   address and tells the OLD address what is happening ("if it wasn't you, change your
   password"). Nothing changes yet.
2. The link is signed and time-limited (``EMAIL_CHANGE_MAX_AGE``) and carries the account, the
   new address and a fingerprint of the current address and password hash: it dies when it is
   used (the address changes), when the address is changed another way, and when the password
   changes — the advice to the old address also kills the link.
3. ``confirm`` (a POST from the page the link opens; a GET changes nothing) sets the address.

Both mails go out at once through ``forum.mail`` like the password-reset mail: the mail queue
(``forum.services.mailer``) holds notifications and digests, rows without text of their own,
and a confirmation link must not wait for a digest. An SMTP failure is a German error, not a
500, and changes nothing.
"""
from __future__ import annotations

import hashlib
import secrets
import smtplib
from collections.abc import Callable

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from forum import mail
from forum.errors import ConflictError, ValidationError
from forum.extensions import db
from forum.models import User
from forum.services import accounts, validation


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="email-change")


def _fingerprint(user: User) -> str:
    """Changes with the address and with the password: a link made before either is dead."""
    return hashlib.sha256(f"{user.email.lower()}\0{user.password_hash}".encode()).hexdigest()[:24]


def make_token(user: User, new_address: str) -> str:
    return _serializer().dumps({"u": user.id, "e": new_address, "f": _fingerprint(user)})


def request_change(user: User, new_address: str, password: str, link_for: Callable[[str], str],
                   password_link: str) -> str:
    """Checks the password and the address, mails the confirmation link (``link_for(token)``)
    to the new address and a notice (with ``password_link``) to the old one. Returns the new
    address; the account is unchanged until ``confirm``."""
    if not accounts.check_password(user, password):
        raise ValidationError(_("Das Passwort stimmt nicht."), "password")
    address = validation.email(new_address)
    if address.lower() == user.email.lower():
        raise ValidationError(_("Das ist schon Ihre E-Mail-Adresse."), "email")
    if accounts.email_taken(address, user.id):
        raise ConflictError(_("Für diese E-Mail-Adresse gibt es schon ein Konto."), "email")
    hours = current_app.config["EMAIL_CHANGE_MAX_AGE"] // 3600
    try:
        mail.send(
            user.email,
            _("Ihre E-Mail-Adresse im Clusterforum wird geändert"),
            _("Hallo %(name)s,\n\nfür Ihr Konto „%(username)s“ wurde beantragt, die E-Mail-Adresse in "
              "%(address)s zu ändern. Die Änderung gilt erst, wenn der Link in der Nachricht an die neue "
              "Adresse geöffnet und bestätigt wird.\n\nWenn Sie das nicht waren, ändern Sie bitte sofort "
              "Ihr Passwort – damit wird auch der Bestätigungslink ungültig:\n\n%(link)s\n\nIhr Clusterforum",
              name=user.display_name, username=user.username, address=address, link=password_link),
        )
        mail.send(
            address,
            _("Bitte bestätigen Sie Ihre neue E-Mail-Adresse"),
            _("Hallo %(name)s,\n\nSie möchten für Ihr Konto „%(username)s“ im Clusterforum diese E-Mail-Adresse "
              "verwenden. Über diesen Link bestätigen Sie sie; er gilt %(hours)s Stunden und nur einmal:\n\n"
              "%(link)s\n\nWenn Sie nichts beantragt haben, ignorieren Sie diese Nachricht einfach.\n\n"
              "Ihr Clusterforum",
              name=user.display_name, username=user.username, hours=hours, link=link_for(make_token(user, address))),
        )
    except (smtplib.SMTPException, OSError) as error:
        current_app.logger.warning("Mail zur Änderung der E-Mail-Adresse nicht versendet: %r", error)
        raise ValidationError(_("Die Bestätigungs-Mail konnte gerade nicht versendet werden. Bitte versuchen Sie "
                                "es später noch einmal; Ihre E-Mail-Adresse bleibt, wie sie ist.")) from None
    return address


def read_token(token: str) -> tuple[User, str] | None:
    """The account and the new address of a live link, or None (expired, forged, used, or the
    address or password changed since)."""
    try:
        data = _serializer().loads(token, max_age=current_app.config["EMAIL_CHANGE_MAX_AGE"])
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("e"), str):
        return None
    user = db.session.get(User, data["u"])
    if user is None or not user.is_active or not secrets.compare_digest(_fingerprint(user), str(data.get("f"))):
        return None
    return user, data["e"]


def confirm(token: str) -> User:
    """Sets the new address of a live link: the one place where an account's own address
    changes (a hook for anything that should follow, e.g. ending API tokens, belongs here)."""
    found = read_token(token)
    if found is None:
        raise ValidationError(_("Dieser Bestätigungslink ist abgelaufen oder wurde schon verwendet."))
    user, address = found
    address = validation.email(address)
    if accounts.email_taken(address, user.id):
        raise ConflictError(_("Für diese E-Mail-Adresse gibt es inzwischen ein anderes Konto."), "email")
    user.email = address
    db.session.commit()
    return user

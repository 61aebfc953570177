"""Two-factor log-in with TOTP (RFC 6238) and single-use recovery codes.

Set-up: ``new_secret`` makes a secret that the web keeps in the session, pending, until
``enable`` gets a valid code for it. Codes are accepted one step (30 s) early or late, and
never twice: ``users.totp_last_step`` remembers the last step accepted, and it only grows
(a conditional UPDATE, so two requests with the same code cannot both pass). Ten recovery
codes are shown once; only their SHA-256 is kept, and each works once. Platform admins must
use two-factor log-in when ``TWO_FACTOR_REQUIRED_FOR_ADMINS`` is set (the default).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import secrets

import pyotp
import segno
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select, update

from forum.errors import ValidationError
from forum.extensions import db
from forum.models import RecoveryCode, User, utcnow
from forum.services import accounts

RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
RECOVERY_CODE_LENGTH = 12  # ~59 bits each
VALID_WINDOW = 1  # steps before and after the current one


# -- who must, who has ---------------------------------------------------------------------------

def is_required(user) -> bool:
    return (bool(getattr(user, "is_admin", False))
            and bool(current_app.config.get("TWO_FACTOR_REQUIRED_FOR_ADMINS", True)))


def needs_setup(user) -> bool:
    """A signed-in platform admin who must switch two-factor log-in on before anything else."""
    return is_required(user) and not getattr(user, "two_factor_enabled", False)


# -- set-up --------------------------------------------------------------------------------------

def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def grouped(secret: str) -> str:
    """``JBSW Y3DP …`` for typing the secret into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username,
                                               issuer_name=current_app.config.get("TWO_FACTOR_ISSUER", "Clusterforum"))


def qr_svg(uri: str) -> bytes:
    """The ``otpauth://`` URI as a QR code: a standalone SVG without script or style."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=4, dark="#000", light="#fff",
                                    title=_("QR-Code für die Authenticator-App"))
    return out.getvalue()


def enable(user: User, secret: str, code: str) -> list[str]:
    """Switches two-factor log-in on with the pending ``secret`` once ``code`` fits it; ends
    every other session of the account and returns the new recovery codes (shown once)."""
    step = _matching_step(secret, code, None)
    if step is None:
        raise ValidationError(_("Der Code stimmt nicht. Bitte geben Sie den aktuellen sechsstelligen Code "
                                "aus Ihrer App ein."), "code")
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step  # the confirming code cannot be used again at the next log-in
    accounts.end_credentials(user)  # every other session and every API token (issued without it)
    codes = _replace_recovery_codes(user)
    db.session.commit()
    return codes


def disable(user: User, password: str, code: str) -> None:
    """Switches two-factor log-in off; needs the password and a current or recovery code."""
    if not user.two_factor_enabled:
        return
    if not accounts.check_password(user, password):
        raise ValidationError(_("Das Passwort stimmt nicht."), "password")
    if verify(user, code) is None:
        raise ValidationError(_("Der Code stimmt nicht."), "code")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    accounts.end_api_tokens(user.id)  # tokens issued with the second factor should not outlive it
    db.session.commit()


def regenerate_recovery_codes(user: User, password: str) -> list[str]:
    """New recovery codes; the old ones stop working."""
    if not user.two_factor_enabled:
        raise ValidationError(_("Die Zwei-Faktor-Anmeldung ist nicht eingeschaltet."))
    if not accounts.check_password(user, password):
        raise ValidationError(_("Das Passwort stimmt nicht."), "password")
    codes = _replace_recovery_codes(user)
    db.session.commit()
    return codes


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(RecoveryCode)
                             .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


# -- verifying -----------------------------------------------------------------------------------

def verify(user: User, code: str | None) -> str | None:
    """``"totp"`` or ``"recovery"`` when ``code`` is a valid, unused code of the account;
    None otherwise. A recovery code is used up by this call."""
    if not user.two_factor_enabled:
        return None
    text = re.sub(r"[\s-]", "", code or "").lower()
    if re.fullmatch(r"\d{6}", text):
        return "totp" if _use_totp(user, text) else None
    if len(text) == RECOVERY_CODE_LENGTH and _use_recovery_code(user, text):
        return "recovery"
    return None


def _matching_step(secret: str, code: str | None, last_step: int | None) -> int | None:
    """The time step whose code is ``code`` (within the window) and later than ``last_step``."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(_now())
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if secrets.compare_digest(totp.generate_otp(step), code) and (last_step is None or step > last_step):
            return step
    return None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)  # tests set the clock here


def _use_totp(user: User, code: str) -> bool:
    step = _matching_step(user.totp_secret, code, user.totp_last_step)
    if step is None:
        return False
    # Only one request may move the step forward: a code replayed at the same moment loses.
    won = db.session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()  # expires ``user``: it reloads the step it now has
    return won


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _use_recovery_code(user: User, code: str) -> bool:
    used = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _digest(code), RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    return used


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _i in range(RECOVERY_CODE_LENGTH))
             for _n in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_digest(code)) for code in codes)
    return [f"{code[:4]}-{code[4:8]}-{code[8:]}" for code in codes]

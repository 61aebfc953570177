"""Accounts: creation, passwords, log-in, profile, API tokens, password reset."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import joinedload

from forum import mail
from forum.errors import ConflictError, ValidationError
from forum.extensions import db
from forum.models import ApiToken, Membership, User, utcnow
from forum.rendering import has_control_characters
from forum.services import validation

_hashers: dict[tuple, PasswordHasher] = {}
_dummy_hashes: dict[int, str] = {}


def hasher() -> PasswordHasher:
    """argon2id; the parameters come from the config (ARGON2_TIME_COST, ARGON2_MEMORY_COST,
    ARGON2_PARALLELISM), the library's recommended ones by default. Hashes made with other
    parameters are upgraded at the next log-in."""
    config = current_app.config
    key = (config.get("ARGON2_TIME_COST"), config.get("ARGON2_MEMORY_COST"), config.get("ARGON2_PARALLELISM"))
    if key not in _hashers:
        options = {name: int(value) for name,
                   value in zip(("time_cost", "memory_cost", "parallelism"), key, strict=True) if value}
        _hashers[key] = PasswordHasher(**options)
    return _hashers[key]


def _dummy_hash() -> str:
    """A hash with the current parameters, verified for unknown accounts (equal timing)."""
    h = hasher()
    if id(h) not in _dummy_hashes:
        _dummy_hashes[id(h)] = h.hash("no-such-account")
    return _dummy_hashes[id(h)]

PROFILE_FIELDS = ("display_name", "company", "trade", "region")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def create_user(username: str, email: str, password: str, *, display_name: str = "", company: str = "",
                trade: str = "", region: str = "", is_admin: bool = False, commit: bool = True) -> User:
    name = validation.username(username)
    address = validation.email(email)
    validation.password(password)
    if db.session.scalar(select(User.id).where(User.username == name)):
        raise ConflictError(_("Der Benutzername „%(name)s“ ist schon vergeben.", name=name), "username")
    if email_taken(address):
        raise ConflictError(_("Für diese E-Mail-Adresse gibt es schon ein Konto."), "email")
    user = User(username=name, email=address, password_hash=hash_password(password), is_admin=is_admin,
                **_profile_values({"display_name": display_name or name, "company": company, "trade": trade,
                                   "region": region}))
    db.session.add(user)
    if commit:
        db.session.commit()
    return user


def _profile_values(values: dict) -> dict:
    labels = {"display_name": _("Der Anzeigename"), "company": _("Der Betrieb"), "trade": _("Das Gewerk"),
              "region": _("Die Region")}
    return {
        field: validation.text(values.get(field), field, labels[field], max_length=120 if field != "company" else 160,
                               required=field == "display_name")
        for field in PROFILE_FIELDS
    }


def update_profile(user: User, values: dict) -> User:
    """Name, business, region and language. The e-mail address is not changed here: that takes
    the password and a link opened from the new address (forum.services.email_change)."""
    for field, value in _profile_values(values).items():
        setattr(user, field, value)
    locale = values.get("locale")
    if locale is not None:
        if locale not in current_app.config["LANGUAGES"]:
            raise ValidationError(_("Diese Sprache gibt es nicht."), "locale")
        user.locale = locale
    db.session.commit()
    return user


def authenticate(login: str, password: str) -> User | None:
    """The account for a username or e-mail and password; None for any failure, with the
    same work done either way so timing does not reveal which accounts exist."""
    user = account_for_login(login)
    if user is None or not user.password_hash:
        _verify(_dummy_hash(), password or "")
        return None
    if not _verify(user.password_hash, password or ""):
        return None
    if hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if not user.is_active:
        return None
    user.last_seen_at = utcnow()
    db.session.commit()
    return user


def account_for_login(login: str | None) -> User | None:
    """The account a log-in name stands for — its username or e-mail address, in any case and
    Unicode width — or None. Log-in, password reset and the throttles (which count per account,
    so no second spelling gets a fresh allowance) all look an account up here."""
    login = unicodedata.normalize("NFKC", login or "").strip().lower()
    if not login or len(login) > 254 or has_control_characters(login):   # NUL: PostgreSQL fails (fuzzing)
        return None
    return db.session.scalar(select(User).where(or_(User.username == login, func.lower(User.email) == login)).limit(1))


def email_taken(address: str, except_user_id: int | None = None) -> bool:
    """Another account has this address already (addresses are unique without regard to case)."""
    query = select(User.id).where(func.lower(User.email) == address.lower())
    if except_user_id is not None:
        query = query.where(User.id != except_user_id)
    return db.session.scalar(query.limit(1)) is not None


def check_password(user: User, password: str | None) -> bool:
    """The account's password, for steps that ask for it again (two-factor, e-mail change)."""
    return _verify(user.password_hash, password or "")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(user: User, password: str) -> None:
    """A new password ends every other session, remember-me cookie and API token of the account."""
    validation.password(password)
    user.password_hash = hash_password(password)
    end_credentials(user)
    db.session.commit()


def end_credentials(user: User) -> None:
    """A new session token makes every session and remember-me cookie of the account worthless,
    including copies of the cookie (a cookie cannot be recalled from a browser), and every API
    token ends with them (tokens also check the session token they were issued under). The one
    helper for a new password, a reset, log-out everywhere, a suspension and a change of the
    second factor. The caller commits."""
    user.session_token = secrets.token_hex(16)
    end_api_tokens(user.id)


def end_all_sessions(user: User) -> None:
    """"Auf allen Geräten abmelden": every session, cookie and API token of the account ends."""
    end_credentials(user)
    db.session.commit()


def change_password(user: User, current: str, new: str, confirm: str) -> None:
    if not _verify(user.password_hash, current or ""):
        raise ValidationError(_("Das aktuelle Passwort stimmt nicht."), "current_password")
    if new != confirm:
        raise ValidationError(_("Die beiden neuen Passwörter stimmen nicht überein."), "confirm")
    set_password(user, new)


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's loader: ``id:session_token``; a changed token signs the session out."""
    user_id, _sep, token = session_id.partition(":")
    if not user_id.isdigit():
        return None
    # one query: the account, its memberships and their clusters (the navigation lists them)
    user = db.session.get(User, int(user_id), options=[joinedload(User.memberships).joinedload(Membership.cluster)])
    if user is None or not secrets.compare_digest(user.session_token, token) or not user.is_active:
        return None
    return user


# -- API tokens -------------------------------------------------------------------------------

def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


MAX_TOKENS_PER_ACCOUNT = 20   # a new token beyond these ends the oldest, so the list stays short


def issue_api_token(user: User, *, days: int, name: str = "", two_factor: bool = False) -> tuple[str, ApiToken]:
    """A new bearer token for ``user``, valid for ``days``; ``two_factor`` when the caller has
    just proved the second factor. Returns the token itself (only its digest is kept) and its row.
    An account keeps at most ``MAX_TOKENS_PER_ACCOUNT`` tokens: expired ones and the oldest
    beyond that number go in the same commit."""
    label = validation.text(name, "name", _("Der Name"), max_length=80, required=False)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    record = ApiToken(user_id=user.id, token_hash=_token_digest(token), name=label, generation=user.session_token,
                      two_factor=two_factor, created_at=now, expires_at=now + dt.timedelta(days=days))
    db.session.add(record)
    db.session.flush()
    newest = select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.expires_at > now) \
        .order_by(ApiToken.id.desc()).limit(MAX_TOKENS_PER_ACCOUNT)
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id, ApiToken.id.not_in(newest.scalar_subquery()))
                       .execution_options(synchronize_session=False))
    db.session.commit()
    return token, record


def token_for(token: str, *, two_factor_required: Callable[[User], bool]) -> ApiToken | None:
    """The live token (with its account and memberships) for a bearer token, or None: unknown,
    expired, issued before the account's sessions last ended, account suspended — or an
    account that must use two-factor log-in with a token issued without it."""
    found = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(token))
        .options(joinedload(ApiToken.user).selectinload(User.memberships))
    )
    if found is None or not found.is_valid_for(found.user, utcnow()):
        return None
    if two_factor_required(found.user) and not (found.two_factor and found.user.two_factor_enabled):
        return None
    return found


def live_tokens(user: User) -> list[ApiToken]:
    """The account's tokens that still work, newest first (the account page lists them)."""
    return [token for token in db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.expires_at > utcnow())
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ) if token.is_valid_for(user, utcnow())]


def revoke_token(user: User, token_id: int) -> bool:
    """Ends one of the account's own tokens; False when it has no such token."""
    gone = db.session.execute(delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)).rowcount
    db.session.commit()
    return bool(gone)


def end_api_tokens(user_id: int) -> None:
    """Every API token of the account ends (a change of role or of the admin flag; also part of
    ``end_all_sessions``). The caller commits."""
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))


# -- password reset ---------------------------------------------------------------------------

def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _fingerprint(user: User) -> str:
    """Changes when the password does, which makes a reset link single-use."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def make_reset_token(user: User) -> str:
    return _reset_serializer().dumps({"u": user.id, "f": _fingerprint(user)})


def user_for_reset_token(token: str) -> User | None:
    try:
        data = _reset_serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except (SignatureExpired, BadSignature):
        return None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) and isinstance(data.get("u"), int) else None
    if user is None or not user.is_active or not secrets.compare_digest(_fingerprint(user), str(data.get("f"))):
        return None
    return user


def request_password_reset(login: str, link_for) -> None:
    """Mails a reset link if the account exists; says nothing either way."""
    user = account_for_login(login)
    if user is None or not user.is_active:
        return
    link = link_for(make_reset_token(user))
    hours = current_app.config["PASSWORD_RESET_MAX_AGE"] // 3600
    mail.send(
        user.email,
        _("Neues Passwort für Clusterforum"),
        _("Hallo %(name)s,\n\nSie (oder jemand anderes) haben ein neues Passwort für Ihr Konto „%(username)s“ "
          "angefordert. Über diesen Link legen Sie es fest; er gilt %(hours)s Stunden und nur einmal:\n\n%(link)s\n\n"
          "Wenn Sie nichts angefordert haben, ignorieren Sie diese Nachricht einfach – "
          "Ihr Passwort bleibt, wie es ist.\n\n"
          "Ihr Clusterforum", name=user.display_name, username=user.username, hours=hours, link=link),
    )

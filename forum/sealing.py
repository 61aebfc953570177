"""Secrets the forum must read back (TOTP secrets) are kept encrypted in the database (issue
15, point 11 c): a copy of the database or of a backup alone does not give them away.

The key is derived from ``SECRET_KEY`` with HKDF-SHA256 and used with Fernet (AES-128-CBC and
HMAC-SHA256, from the ``cryptography`` package). A stored value reads ``fernet:<token>``.
Values written before encryption (plain base32) are still read; the migration
``c8d9e0f1a2b3`` encrypted the existing ones. Whoever restores a backup needs the same secret
key (instance/secret_key or FORUM_SECRET_KEY): with another one a sealed secret cannot be read,
and the account's authenticator codes stop working (its recovery codes still do).
"""
from __future__ import annotations

import base64
import logging

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

PREFIX = "fernet:"
_INFO = b"clusterforum: TOTP secrets at rest, v1"
_fernets: dict[bytes, Fernet] = {}
# Stands in for a secret sealed with another key: two-factor log-in stays on for the account,
# and no code fits (unknown to anyone; new in every process).
_UNREADABLE = pyotp.random_base32()


def _fernet(secret_key: str | bytes | None = None) -> Fernet:
    key = secret_key if secret_key is not None else current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else bytes(key)
    if key not in _fernets:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key)
        _fernets[key] = Fernet(base64.urlsafe_b64encode(derived))
    return _fernets[key]


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def seal(text: str, secret_key: str | bytes | None = None) -> str:
    return PREFIX + _fernet(secret_key).encrypt(text.encode()).decode("ascii")


def unseal(stored: str, secret_key: str | bytes | None = None) -> str:
    if not is_sealed(stored):
        return stored   # written before encryption
    try:
        return _fernet(secret_key).decrypt(stored[len(PREFIX):].encode("ascii")).decode()
    except InvalidToken:
        logging.getLogger("forum").error("Ein verschlüsseltes Geheimnis lässt sich mit diesem SECRET_KEY nicht lesen "
                                         "(Sicherung mit einem anderen Schlüssel zurückgespielt?).")
        return _UNREADABLE


class Sealed(TypeDecorator):
    """A string column whose values are sealed on the way in and unsealed on the way out."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value if value is None or is_sealed(value) else seal(value)

    def process_result_value(self, value, dialect):
        return None if value is None else unseal(value)

"""Shared input checks with German messages (field name first, so forms can place them)."""
from __future__ import annotations

import re

from flask import current_app
from flask_babel import gettext as _

from forum.errors import ValidationError
from forum.rendering import has_control_characters, normalise

USERNAME_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds; asking the database for more fails


def object_id(value: object) -> int | None:
    """An id from a form, a query string or JSON: a positive integer that fits the id columns,
    as an int or as ASCII digits; anything else is None. (``"²".isdigit()`` is true, yet
    ``int("²")`` fails, and so does ``int`` of more than 4,300 digits.)"""
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID))):
            return None
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        return None
    return value


def page_number(value: str | None, maximum: int = 100_000) -> int:
    """``?page=N`` of a web page: a positive number below ``maximum``; anything else is page 1."""
    number = object_id(value)
    return number if number is not None and number < maximum else 1


def text(value: object, field: str, label: str, *, max_length: int, required: bool = True,
         multiline: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(_("%(label)s muss ein Text sein.", label=label), field)
    value = normalise(value) if multiline else " ".join(value.split())
    if required and not value:
        raise ValidationError(_("%(label)s darf nicht leer sein.", label=label), field)
    if len(value) > max_length:
        raise ValidationError(
            _("%(label)s darf höchstens %(max)s Zeichen lang sein (jetzt: %(n)s).",
              label=label, max=f"{max_length:,}".replace(",", "."), n=f"{len(value):,}".replace(",", ".")),
            field,
        )
    if has_control_characters(value):
        raise ValidationError(_("%(label)s enthält unzulässige Steuerzeichen.", label=label), field)
    return value


def title(value: object) -> str:
    return text(value, "title", _("Der Titel"), max_length=current_app.config["MAX_TITLE_LENGTH"])


def body(value: object) -> str:
    return text(value, "body", _("Der Beitrag"), max_length=current_app.config["MAX_BODY_LENGTH"], multiline=True)


def username(value: object) -> str:
    name = text(value, "username", _("Der Benutzername"), max_length=40).lower()
    if len(name) < 3 or not USERNAME_RE.match(name):
        raise ValidationError(
            _("Der Benutzername braucht 3–40 Zeichen: Kleinbuchstaben, Ziffern und . _ - dazwischen."), "username"
        )
    return name


def email(value: object) -> str:
    address = text(value, "email", _("Die E-Mail-Adresse"), max_length=254)
    if not EMAIL_RE.match(address):
        raise ValidationError(_("Bitte geben Sie eine gültige E-Mail-Adresse an."), "email")
    return address


def password(value: object) -> str:
    if not isinstance(value, str) or len(value) < 10:
        raise ValidationError(_("Das Passwort muss mindestens 10 Zeichen lang sein."), "password")
    if len(value) > 1024:
        raise ValidationError(_("Das Passwort ist zu lang."), "password")
    return value


def slug(value: object, field: str = "slug") -> str:
    result = text(value, field, _("Die Kurzbezeichnung"), max_length=80)
    if not SLUG_RE.match(result):
        raise ValidationError(_("Die Kurzbezeichnung darf nur Kleinbuchstaben, Ziffern und Bindestriche enthalten."),
                              field)
    return result


def slugify(value: str) -> str:
    """German-aware slug: ä→ae, ß→ss, &→und."""
    value = value.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("&", " und ")):
        value = value.replace(a, b)
    value = re.sub(r"[^a-z0-9]+", "-", value).strip("-")
    return value[:80].strip("-") or "x"

"""Form helpers: service errors land on the field they concern."""
from __future__ import annotations

from flask import flash
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField

from forum.errors import ServiceError


def attach(form: FlaskForm, error: ServiceError) -> None:
    """Shows a service's German message next to its field, or above the form."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        if not isinstance(field.errors, list):
            field.errors = list(field.errors)
        field.errors.append(error.message)
    else:
        flash(error.message, "error")


class BusinessProfileForm(FlaskForm):
    """The fields every account has (accounts.PROFILE_FIELDS): registration, profile editing
    and the admin's account forms extend it."""
    display_name = StringField(_l("Anzeigename"))
    company = StringField(_l("Betrieb"))
    trade = StringField(_l("Gewerk"))
    region = StringField(_l("Region"))

"""The account's API tokens: which still work, and "widerrufen" for each."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm

from forum.auth import viewer
from forum.services import accounts

bp = Blueprint("api_tokens", __name__)


@bp.get("/konto/zugangstokens")
@login_required
def index():
    return render_template("accounts/api_tokens.html", tokens=accounts.live_tokens(viewer()), form=FlaskForm())


@bp.post("/konto/zugangstokens/<int:token_id>/widerrufen")
@login_required
def revoke(token_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    if not accounts.revoke_token(viewer(), token_id):
        abort(404)
    flash(_("Das Zugangstoken ist widerrufen; Programme, die es benutzen, müssen sich neu anmelden."), "success")
    return redirect(url_for("api_tokens.index"))

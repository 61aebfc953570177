"""The /api/v1 endpoints of CONTRACT.md ("HTTP JSON API"); their document is ``openapi.py``.

Each view looks the object up (404 when unknown or not visible), parses the JSON, and calls
the same service as the web pages; services decide 403 and validate (400).
"""
from __future__ import annotations

from flask import abort, current_app, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from sqlalchemy import select

from forum import limits, permissions
from forum.api import bp, serializers
from forum.api.common import (
    board_or_404,
    cluster_or_404,
    id_field,
    json_body,
    page_args,
    page_of,
    post_or_404,
    string_field,
    string_list_field,
    thread_or_404,
)
from forum.auth import current_token_id, viewer
from forum.errors import ServiceError, ValidationError, error_response
from forum.extensions import db, limiter
from forum.models import Cluster, Post
from forum.rendering import has_control_characters
from forum.services import accounts, login_throttle, mentions, posting, reading, twofactor

VIEWS = ("tree", "flat")
REVISIONS_PER_PAGE = 50


class BadCredentials(ServiceError):
    status = 401
    code = "unauthorized"


class OtpRequired(BadCredentials):
    code = "otp_required"


class BadOtp(BadCredentials):
    code = "invalid_otp"


class TwoFactorRequired(ServiceError):
    status = 403
    code = "two_factor_required"


@bp.post("/tokens")
@limiter.limit("10 per minute")
def create_token():
    """Password, and ``otp`` (a current code or a recovery code) for accounts with two-factor
    log-in. Failures are throttled per name and per IP like the web log-in (login_throttle)."""
    data = json_body()
    username = string_field(data, "username")
    password = string_field(data, "password")
    otp = string_field(data, "otp", required=False)
    name = string_field(data, "name", required=False) or ""
    ip = get_remote_address()
    wait = login_throttle.retry_after(username, ip)
    if wait is not None:
        body, status = error_response(429, _("Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie etwas und "
                                             "versuchen Sie es dann noch einmal."), "rate_limited")
        return body, status, {"Retry-After": str(wait)}
    user = None
    if len(username) <= 254 and not has_control_characters(username):
        user = accounts.authenticate(username, password)
    if user is None:
        login_throttle.failed(username, ip)
        # One message for unknown accounts and wrong passwords alike.
        raise BadCredentials(_("Benutzername oder Passwort ist falsch."))
    if user.two_factor_enabled:
        if not otp:
            raise OtpRequired(_("Dieses Konto nutzt die Zwei-Faktor-Anmeldung: Bitte senden Sie im Feld „otp“ den "
                                "aktuellen Code aus der App oder einen Wiederherstellungscode mit."), "otp")
        if len(otp) > 64 or twofactor.verify(user, otp) is None:
            login_throttle.failed(username, ip)
            raise BadOtp(_("Der Code stimmt nicht."), "otp")
    elif twofactor.needs_setup(user):
        raise TwoFactorRequired(_("Als Plattform-Admin brauchen Sie die Zwei-Faktor-Anmeldung, bevor Sie ein "
                                  "Zugangstoken bekommen. Bitte richten Sie sie im Web unter „Konto“ ein."))
    login_throttle.succeeded(username)
    token, record = accounts.issue_api_token(user, days=current_app.config["API_TOKEN_DAYS"], name=name,
                                             two_factor=user.two_factor_enabled)
    return {"token": token, **serializers.api_token(record, record.id)}, 201


@bp.get("/tokens")
def list_tokens():
    """The caller's own tokens that still work; ``current`` marks the one of this request."""
    current = current_token_id()
    return {"items": [serializers.api_token(t, current) for t in accounts.live_tokens(viewer())]}


@bp.delete("/tokens/current")
def delete_current_token():
    """Log-out for API clients: the token of this request ends."""
    token_id = current_token_id()
    if token_id is None:
        raise ValidationError(_("Nur mit einem Zugangstoken (Authorization: Bearer …) möglich."))
    accounts.revoke_token(viewer(), token_id)
    return "", 204


@bp.delete("/tokens/<int:token_id>")
def delete_token(token_id: int):
    """Ends one of the caller's own tokens; another account's token is a 404 like an unknown one."""
    if not accounts.revoke_token(viewer(), token_id):
        abort(404)
    return "", 204


@bp.get("/me")
def me():
    user = viewer()
    # Loads the member clusters in one statement; the memberships then find them in the session
    # (held in ``clusters`` while serialising: the session keeps only weak references).
    clusters = db.session.scalars(select(Cluster).where(Cluster.id.in_(user.cluster_ids))).all()
    answer = serializers.account(user, reading.platform_boards(user))
    del clusters
    return answer


@bp.get("/clusters")
def clusters():
    page, per_page = page_args(50)
    visible = reading.visible_clusters(viewer())
    chunk = visible[(page - 1) * per_page:page * per_page]
    return page_of([serializers.cluster(c) for c in chunk], page, per_page, len(visible))


@bp.get("/clusters/<slug>")
def cluster(slug: str):
    item = cluster_or_404(slug)
    readable = permissions.can_read_cluster(viewer(), item.id)
    answer = serializers.cluster(item)
    answer["readable"] = readable
    answer["boards"] = [serializers.board(b) for b in item.boards] if readable else []
    return answer


@bp.get("/boards/<int:board_id>/threads")
def board_threads(board_id: int):
    board = board_or_404(board_id)
    page, per_page = page_args(current_app.config["THREADS_PER_PAGE"])
    threads, total = reading.board_threads_page(board, page, per_page)
    return page_of([serializers.thread(t) for t in threads], page, per_page, total)


@bp.post("/boards/<int:board_id>/threads")
@limits.posts
def create_thread(board_id: int):
    board = board_or_404(board_id)
    data = json_body()
    tags = string_list_field(data, "tags")
    thread = posting.create_thread(viewer(), board, data.get("title"), data.get("body"), tags)
    answer = serializers.thread(thread)
    answer["first_post"] = serializers.post(viewer(), db.session.get(Post, thread.first_post_id))
    answer["first_post"].update(mentions.api_fields())  # notifications: mentions that notified nobody
    return answer, 201, {"Location": url_for("api.thread", thread_id=thread.id)}


@bp.get("/threads/<int:thread_id>")
def thread(thread_id: int):
    item = thread_or_404(thread_id)
    view = _view_arg()
    page, per_page = page_args(current_app.config["POSTS_PER_PAGE"])
    user = viewer()
    result = reading.thread_page(item, view, page, per_page, viewer=user)
    answer = page_of([serializers.post(user, row.post) for row in result.rows], result.page, result.per_page,
                     result.total)
    answer.update(thread=serializers.thread(item), view=view, pages=result.pages)
    return answer


def _view_arg() -> str:
    view = request.args.get("view", "tree")
    if view not in VIEWS:
        raise ValidationError(_("„view“ muss „tree“ oder „flat“ sein."), "view")
    return view


@bp.post("/threads/<int:thread_id>/posts")
@limits.posts
def create_post(thread_id: int):
    thread = thread_or_404(thread_id)
    data = json_body()
    parent_id = id_field(data, "parent_id")
    post = posting.reply(viewer(), thread, data.get("body"), parent_id)
    return {**serializers.post(viewer(), post), **mentions.api_fields()}, 201  # notifications: unnotified mentions


@bp.patch("/posts/<int:post_id>")
@limits.posts
def edit_post(post_id: int):
    post = post_or_404(post_id)
    data = json_body()
    posting.edit_post(viewer(), post, data.get("body"))
    return serializers.post(viewer(), post)


@bp.delete("/posts/<int:post_id>")
def delete_post(post_id: int):
    post = post_or_404(post_id)
    posting.delete_post(viewer(), post)
    return "", 204


@bp.get("/posts/<int:post_id>/revisions")
def post_revisions(post_id: int):
    post = post_or_404(post_id)
    permissions.ensure_visible(permissions.can_view_revisions(viewer(), post))
    page, per_page = page_args(REVISIONS_PER_PAGE)
    revisions = reading.revisions(post)
    chunk = revisions[(page - 1) * per_page:page * per_page]
    return page_of([serializers.revision(r) for r in chunk], page, per_page, len(revisions))


"""Notifications, mail settings, unsubscribing, watching, unread jumps, reactions and the
mention autocompletion. Every form works without JavaScript."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from forum import permissions
from forum.auth import viewer
from forum.errors import ServiceError
from forum.extensions import csrf, db
from forum.models import Board, Notification, Post, Thread
from forum.services import (
    mail_content,
    mentions,
    notification_text,
    notifications,
    reactions,
    unread,
    validation,
    watching,
)
from forum.web.redirects import local_target

bp = Blueprint("notifications", __name__)
PER_PAGE = 30


def _back(default: str) -> str:
    return local_target(request.form.get("next"), default)


def _page() -> int:
    value = request.args.get("page", "1")
    return validation.page_number(value)


# -- template helpers: one query each ---------------------------------------------------------

@bp.app_template_global()
def unread_notification_count() -> int:
    return notifications.unread_count(viewer())


@bp.app_template_global()
def unread_map(threads: list[Thread]) -> dict:
    return unread.counts(viewer(), list(threads))


@bp.app_template_global()
def reaction_summary(rows) -> dict:
    return reactions.summary(viewer(), [row.post.id for row in rows])


@bp.app_template_global()
def watch_level(target_type: str, target_id: int) -> str | None:
    return watching.own_level(viewer(), target_type, target_id)


@bp.app_context_processor
def _constants() -> dict:
    return {"watch_levels": watching.LEVEL_LABELS, "watch_help": watching.LEVEL_HELP}


# -- the list ------------------------------------------------------------------------------------

@bp.get("/benachrichtigungen")
@login_required
def index():
    user = viewer()
    only_unread = request.args.get("ungelesen") == "1"
    page = _page()
    rows, total = notifications.page(user, page, PER_PAGE, unread_only=only_unread)
    pages = max(1, -(-total // PER_PAGE))
    return render_template("notifications/index.html", lines=notification_text.present(user, rows), page=page,
                           pages=pages, total=total, only_unread=only_unread)


@bp.route("/benachrichtigungen/<int:notification_id>", methods=["GET", "POST"])
@login_required
def open_notification(notification_id: int):
    """Leads to what the notification is about; the list's POST also marks it read (a GET,
    e.g. an old bookmark or a prefetch, only leads there)."""
    user = viewer()
    item = db.session.get(Notification, notification_id)
    permissions.ensure_visible(item is not None and item.user_id == user.id)
    line = notification_text.present(user, [item], group=False)[0]
    if request.method == "POST":
        notifications.mark_read(user, [item.id])
    return redirect(line.url or url_for("notifications.index"))


@bp.post("/benachrichtigungen/gelesen")
@login_required
def mark_read():
    user = viewer()
    if request.form.get("alle"):
        notifications.mark_read(user)
        flash(_("Alle Benachrichtigungen sind als gelesen markiert."), "success")
    else:
        ids = [i for i in map(validation.object_id, request.form.getlist("id")) if i]
        notifications.mark_read(user, ids)
    return redirect(_back(url_for("notifications.index")))


# -- mail settings and one-click unsubscribe -----------------------------------------------------

@bp.route("/konto/benachrichtigungen", methods=["GET", "POST"])
@login_required
def settings():
    user = viewer()
    if request.method == "POST":
        notifications.save_modes(user, {c: request.form.get(c, "") for c in notifications.CATEGORIES})
        flash(_("Ihre Einstellungen für Benachrichtigungen sind gespeichert."), "success")
        return redirect(url_for("notifications.settings"))
    return render_template("notifications/settings.html", modes=notifications.modes_for([user.id])[user.id],
                           categories=notifications.CATEGORIES, mode_labels=notifications.MODE_LABELS)


@bp.route("/abmelden/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """Works without log-in: the signed token names the account and what to stop. Mail
    programs send the one-click POST (RFC 8058) without a CSRF token; the signature is the proof."""
    found = mail_content.read_token(token) if len(token) < 500 else None
    if found is None:
        abort(404)
    user, scope = found
    if request.method == "POST":
        mail_content.unsubscribe(user, scope)
        return render_template("notifications/unsubscribed.html", scope=mail_content.scope_label(scope))
    return render_template("notifications/unsubscribe.html", scope=mail_content.scope_label(scope), token=token)


# -- watching, unread, reactions ----------------------------------------------------------------

@bp.post("/beobachten/<target_type>/<int:target_id>")
@login_required
def watch(target_type: str, target_id: int):
    try:
        level = watching.set_level(viewer(), target_type, target_id, request.form.get("level"))
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        flash(_("Gespeichert: %(level)s.", level=watching.LEVEL_LABELS[level]), "success")
    return redirect(_back(url_for("main.index")))


@bp.post("/b/<int:board_id>/gelesen")
@login_required
def board_read(board_id: int):
    board = db.session.get(Board, board_id)
    permissions.ensure_visible(board is not None and permissions.can_view_board(viewer(), board))
    unread.mark_board_read(viewer(), board)
    flash(_("Alle Themen in „%(board)s“ sind als gelesen markiert.", board=board.name), "success")
    return redirect(url_for("clusters.board", board_id=board.id))


@bp.post("/t/<int:thread_id>/gelesen")
@login_required
def thread_read(thread_id: int):
    """The thread page's read mark: sent by static/js/forum.js when the page has loaded
    (answer 204), or by its button without JavaScript (back to the page)."""
    thread = db.session.get(Thread, thread_id)
    permissions.ensure_visible(thread is not None and permissions.can_view_thread(viewer(), thread))
    unread.mark_read_up_to(viewer(), thread, validation.object_id(request.form.get("post")))
    if request.headers.get("X-Requested-With") == "fetch":
        return "", 204
    return redirect(_back(url_for("threads.show", thread_id=thread.id)))


@bp.get("/t/<int:thread_id>/ungelesen")
@login_required
def first_unread(thread_id: int):
    thread = db.session.get(Thread, thread_id)
    permissions.ensure_visible(thread is not None and permissions.can_view_thread(viewer(), thread))
    post_id = unread.first_unread_post_id(viewer(), thread)
    if post_id is None:
        return redirect(url_for("threads.show", thread_id=thread.id))
    return redirect(url_for("threads.permalink", post_id=post_id))


@bp.post("/p/<int:post_id>/reaktion")
@login_required
def react(post_id: int):
    post = db.session.get(Post, post_id)
    permissions.ensure_visible(post is not None and permissions.can_view_post(viewer(), post))
    try:
        reactions.toggle(viewer(), post, request.form.get("kind"))
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    return redirect(_back(url_for("threads.permalink", post_id=post.id)))


# -- mention autocompletion (JSON for static/js/forum.js) ----------------------------------------

def _people(thread: Thread | None, board: Board | None):
    found = mentions.candidates(viewer(), thread, board, request.args.get("q", ""))
    return jsonify(items=[{"username": p.username, "display_name": p.display_name} for p in found])


@bp.get("/t/<int:thread_id>/erwaehnungen")
@login_required
def thread_mentions(thread_id: int):
    thread = db.session.get(Thread, thread_id)
    permissions.ensure_visible(thread is not None and permissions.can_view_thread(viewer(), thread))
    return _people(thread, None)


@bp.get("/b/<int:board_id>/erwaehnungen")
@login_required
def board_mentions(board_id: int):
    board = db.session.get(Board, board_id)
    permissions.ensure_visible(board is not None and permissions.can_view_board(viewer(), board))
    return _people(None, board)

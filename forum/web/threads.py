"""Thread pages, replies, editing, deleting, revisions and the Markdown preview."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField

from forum import limits, permissions
from forum.auth import viewer
from forum.errors import ServiceError
from forum.extensions import db
from forum.models import Post, Thread
from forum.rendering import render
from forum.services import mentions, posting, reactions, reading, validation  # notifications
from forum.web import presenters
from forum.web.forms import attach

bp = Blueprint("threads", __name__)


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Ihre Antwort"))
    parent_id = HiddenField()


class EditForm(FlaskForm):
    body = TextAreaField(_l("Beitrag"))


class ConfirmForm(FlaskForm):
    """Only the CSRF token: a confirmation button."""


def thread_or_404(thread_id: int) -> Thread:
    thread = db.session.get(Thread, thread_id)
    permissions.ensure_visible(thread is not None and permissions.can_view_thread(viewer(), thread))
    return thread


def post_or_404(post_id: int) -> Post:
    post = db.session.get(Post, post_id)
    permissions.ensure_visible(post is not None and permissions.can_view_post(viewer(), post))
    return post


def _view() -> str:
    return "flat" if request.args.get("view") == "flat" else "tree"


def _page() -> int:
    value = request.args.get("page", "1")
    return validation.page_number(value)


def post_url(post: Post, view: str = "tree") -> str:
    page = reading.page_of_post(post.thread, post, view, current_app.config["POSTS_PER_PAGE"])
    args = {"page": page} if page > 1 else {}
    if view == "flat":
        args["view"] = "flat"
    return url_for("threads.show", thread_id=post.thread_id, **args) + f"#p{post.id}"


@bp.get("/t/<int:thread_id>")
@login_required
def show(thread_id: int):
    thread = thread_or_404(thread_id)
    view = _view()
    user = viewer()
    page = reading.thread_page(thread, view, _page(), current_app.config["POSTS_PER_PAGE"], viewer=user)
    post_ids = [row.post.id for row in page.rows]
    # notifications: the read position is not written here (a GET changes nothing); the page's
    # read-mark form posts it (notifications.thread_read), by itself where JavaScript runs
    posts = presenters.thread_posts(user, thread, page.rows, view, reactions.summary(user, post_ids), _post_labels())
    return render_template("threads/show.html", thread=thread, page=page, view=view, posts=posts,
                           form=ReplyForm())


def _post_labels() -> dict[str, str]:
    return {"former": _("Ehemaliges Konto"), "deleted": _("Gelöscht"), "permalink": _("Link zu diesem Beitrag"),
            "reply_to": _("Antwort an %(name)s")}


@bp.route("/t/<int:thread_id>/antworten", methods=["GET", "POST"])
@login_required
@limits.posts
@limits.previews
def reply(thread_id: int):
    thread = thread_or_404(thread_id)
    user = viewer()
    if request.method == "GET" and not permissions.can_reply(user, thread):
        abort(403, _("In diesem Thema können Sie nicht antworten."))
    form = ReplyForm()
    parent = None
    parent_ref = form.parent_id.data if request.method == "POST" else request.args.get("parent")
    if validation.object_id(parent_ref):
        parent = db.session.get(Post, validation.object_id(parent_ref))
        if parent is None or parent.thread_id != thread.id or not permissions.can_reply_to_post(user, parent):
            parent = None
    if request.method == "GET":
        form.parent_id.data = parent.id if parent else ""
        if parent is not None and request.args.get("zitat") and permissions.can_quote_post(user, parent):
            form.body.data = posting.quote(parent)
    preview = None
    if form.validate_on_submit():
        if request.form.get("action") == "preview":
            preview = render(form.body.data or "")
        else:
            try:
                post = posting.reply(user, thread, form.body.data, form.parent_id.data or None)
            except ServiceError as error:
                db.session.rollback()
                attach(form, error)
            else:
                if post.awaiting_approval:  # -- cluster management: approval of new members' posts
                    flash(_("Danke! Ihre Antwort erscheint, sobald die Clustermanager:innen sie freigegeben haben."),
                          "info")
                else:
                    flash(_("Ihre Antwort ist veröffentlicht."), "success")
                mentions.flash_unnotified()  # notifications: mentions that reached nobody
                return redirect(post_url(post))
    status = 400 if request.method == "POST" and preview is None else 200
    return render_template("threads/reply.html", thread=thread, parent=parent, form=form, preview=preview), status


@bp.get("/p/<int:post_id>")
@login_required
def permalink(post_id: int):
    post = post_or_404(post_id)
    return redirect(post_url(post, _view()))


@bp.route("/p/<int:post_id>/bearbeiten", methods=["GET", "POST"])
@login_required
@limits.posts
@limits.previews
def edit(post_id: int):
    post = post_or_404(post_id)
    user = viewer()
    permissions.ensure_can(permissions.can_edit_post(user, post))
    form = EditForm(body=post.body_markdown) if request.method == "GET" else EditForm()
    preview = None
    if form.validate_on_submit():
        if request.form.get("action") == "preview":
            preview = render(form.body.data or "")
        else:
            try:
                posting.edit_post(user, post, form.body.data)
            except ServiceError as error:
                db.session.rollback()
                attach(form, error)
            else:
                mentions.flash_unnotified()
                flash(_("Ihre Änderung ist gespeichert."), "success")
                return redirect(post_url(post))
    status = 400 if request.method == "POST" and preview is None else 200
    return render_template("threads/edit.html", post=post, form=form, preview=preview), status


@bp.route("/p/<int:post_id>/loeschen", methods=["GET", "POST"])
@login_required
def delete(post_id: int):
    post = post_or_404(post_id)
    user = viewer()
    permissions.ensure_can(permissions.can_delete_post(user, post))
    form = ConfirmForm()
    if form.validate_on_submit():
        posting.delete_post(user, post)
        flash(_("Der Beitrag ist gelöscht. Antworten darauf bleiben stehen."), "success")
        return redirect(post_url(post))
    return render_template("threads/delete.html", post=post, form=form)


@bp.get("/p/<int:post_id>/versionen")
@login_required
def revisions(post_id: int):
    post = post_or_404(post_id)
    permissions.ensure_visible(permissions.can_view_revisions(viewer(), post))
    return render_template("threads/revisions.html", post=post, revisions=reading.revisions(post))


@bp.post("/vorschau")
@login_required
@limits.previews
def preview():
    """Live preview for the progressive JavaScript; the same renderer as saving."""
    body = request.form.get("body", "")
    if len(body) > current_app.config["MAX_BODY_LENGTH"]:
        abort(413)
    return render(body), 200, {"Content-Type": "text/html; charset=utf-8"}

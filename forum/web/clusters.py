"""Cluster homes, member lists, boards and starting a thread."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectMultipleField, StringField, TextAreaField, widgets

from forum import limits, permissions
from forum.auth import viewer
from forum.errors import ServiceError
from forum.extensions import db
from forum.models import Board, Cluster
from forum.rendering import render
from forum.services import (
    mentions,  # notifications
    posting,
    reading,
)
from forum.web.forms import attach

bp = Blueprint("clusters", __name__)


class ThreadForm(FlaskForm):
    title = StringField(_l("Titel"))
    body = TextAreaField(_l("Beitrag"))
    tags = SelectMultipleField(_l("Themenfelder"), choices=[], validate_choice=False,
                               widget=widgets.ListWidget(prefix_label=False), option_widget=widgets.CheckboxInput())


def cluster_or_404(slug: str) -> Cluster:
    cluster = db.session.scalar(select(Cluster).where(Cluster.slug == slug))
    permissions.ensure_visible(cluster is not None and permissions.can_see_cluster(viewer(), cluster))
    return cluster


def board_or_404(board_id: int) -> Board:
    board = db.session.get(Board, board_id)
    permissions.ensure_visible(board is not None and permissions.can_view_board(viewer(), board))
    return board


@bp.get("/c/<slug>")
@login_required
def show(slug: str):
    cluster = cluster_or_404(slug)
    user = viewer()
    if not permissions.can_read_cluster(user, cluster.id):
        return render_template("clusters/closed.html", cluster=cluster)
    return render_template("clusters/show.html", cluster=cluster,
                           threads=reading.recent_threads(user, cluster_id=cluster.id, limit=15))


@bp.get("/c/<slug>/mitglieder")
@login_required
def members(slug: str):
    cluster = cluster_or_404(slug)
    permissions.ensure_visible(permissions.can_view_members(viewer(), cluster))
    return render_template("clusters/members.html", cluster=cluster, memberships=reading.cluster_members(cluster))


@bp.get("/b/<int:board_id>")
@login_required
def board(board_id: int):
    board = board_or_404(board_id)
    tag = request.args.get("thema") or None
    listing = reading.board_threads(board, tag=tag, cursor=request.args.get("nach"),
                                    per_page=current_app.config["THREADS_PER_PAGE"])
    return render_template("clusters/board.html", board=board, listing=listing, tag=tag,
                           themenfelder=reading.themenfelder())


@bp.route("/b/<int:board_id>/neu", methods=["GET", "POST"])
@login_required
@limits.posts
@limits.previews
def new_thread(board_id: int):
    board = board_or_404(board_id)
    user = viewer()
    permissions.ensure_can(permissions.can_start_thread(user, board))
    form = ThreadForm()
    form.tags.choices = [(t.slug, t.name) for t in reading.themenfelder()]
    preview = None
    if form.validate_on_submit():
        if request.form.get("action") == "preview":
            preview = render(form.body.data or "")
        else:
            try:
                thread = posting.create_thread(user, board, form.title.data, form.body.data, form.tags.data)
            except ServiceError as error:
                db.session.rollback()
                attach(form, error)
            else:
                mentions.flash_unnotified()  # notifications: mentions that reached nobody
                return redirect(url_for("threads.show", thread_id=thread.id))
    return render_template("clusters/new_thread.html", board=board, form=form, preview=preview)

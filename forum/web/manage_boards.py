"""Board management (a cluster's managers; the platform-wide boards in ``admin``), the
protective settings with the approval queue, and slow mode per thread."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField, TextAreaField

from forum import permissions
from forum.auth import viewer
from forum.errors import ServiceError
from forum.extensions import db
from forum.models import Cluster, Thread
from forum.services import boards as boards_service, protection
from forum.web.forms import attach
from forum.web.manage import ActionForm, bp, managed_cluster_or_404, run_action


class BoardForm(FlaskForm):
    name = StringField(_l("Name"))
    description = TextAreaField(_l("Beschreibung"))


class ApprovalForm(FlaskForm):
    approval_post_count = StringField(_l("Erste Beiträge neuer Mitglieder freigeben"),
                                      render_kw={"type": "number", "min": "0", "max": "50", "inputmode": "numeric"})


class SlowModeForm(FlaskForm):
    minutes = StringField(_l("Ein Beitrag je Mitglied alle … Minuten (0 = aus)"),
                          render_kw={"type": "number", "min": "0", "inputmode": "numeric"})
    reason = StringField(_l("Grund (optional)"))


class RejectForm(FlaskForm):
    reason = StringField(_l("Grund (optional)"))


def board_pages(cluster: Cluster | None, form: BoardForm, endpoint_prefix: str, back: dict):
    """The board list with its create form, shared with the admin's platform-wide boards."""
    user = viewer()
    if form.validate_on_submit():
        try:
            board = boards_service.create(user, cluster, form.name.data, form.description.data)
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Das Brett „%(name)s“ ist angelegt.", name=board.name), "success")
            return redirect(url_for(f"{endpoint_prefix}boards", **back))
    status = 400 if form.errors else 200
    return render_template("manage/boards.html", cluster=cluster, boards=boards_service.boards(user, cluster),
                           form=form, action=ActionForm(), prefix=endpoint_prefix, back=back), status


def board_edit_page(cluster: Cluster | None, board_id: int, endpoint_prefix: str, back: dict):
    user = viewer()
    board = boards_service.board_in(user, cluster, board_id)
    form = BoardForm(obj=board)
    if form.validate_on_submit():
        try:
            boards_service.update(user, board, form.name.data, form.description.data)
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Das Brett ist gespeichert."), "success")
            return redirect(url_for(f"{endpoint_prefix}boards", **back))
    status = 400 if form.errors else 200
    return render_template("manage/board_edit.html", cluster=cluster, board=board, form=form,
                           prefix=endpoint_prefix, back=back), status


def board_move_action(cluster: Cluster | None, board_id: int, direction: str) -> None:
    board = boards_service.board_in(viewer(), cluster, board_id)
    if ActionForm().validate_on_submit():
        run_action(lambda: boards_service.move(viewer(), board, direction), _("Die Reihenfolge ist geändert."))


def board_archive_action(cluster: Cluster | None, board_id: int, archive: bool) -> None:
    board = boards_service.board_in(viewer(), cluster, board_id)
    if ActionForm().validate_on_submit():
        run_action(lambda: boards_service.set_archived(viewer(), board, archive),
             _("Das Brett ist archiviert und nur noch lesbar.") if archive else _("Das Brett ist wieder offen."))


@bp.route("/c/<slug>/verwaltung/bretter", methods=["GET", "POST"])
@login_required
def boards(slug: str):
    cluster = managed_cluster_or_404(slug)
    return board_pages(cluster, BoardForm(), "manage.", {"slug": cluster.slug})


@bp.route("/c/<slug>/verwaltung/bretter/<int:board_id>", methods=["GET", "POST"])
@login_required
def board_edit(slug: str, board_id: int):
    cluster = managed_cluster_or_404(slug)
    return board_edit_page(cluster, board_id, "manage.", {"slug": cluster.slug})


@bp.post("/c/<slug>/verwaltung/bretter/<int:board_id>/<any(hoch, runter):direction>")
@login_required
def board_move(slug: str, board_id: int, direction: str):
    cluster = managed_cluster_or_404(slug)
    board_move_action(cluster, board_id, "up" if direction == "hoch" else "down")
    return redirect(url_for("manage.boards", slug=cluster.slug))


@bp.post("/c/<slug>/verwaltung/bretter/<int:board_id>/<any(archivieren, oeffnen):change>")
@login_required
def board_archive(slug: str, board_id: int, change: str):
    cluster = managed_cluster_or_404(slug)
    board_archive_action(cluster, board_id, change == "archivieren")
    return redirect(url_for("manage.boards", slug=cluster.slug))


# -- protective settings and the approval queue -------------------------------------------------

def _reviewed_cluster_or_404(slug: str) -> Cluster:
    cluster = db.session.scalar(select(Cluster).where(Cluster.slug == slug))
    permissions.ensure_visible(cluster is not None and permissions.can_review_posts(viewer(), cluster.id))
    return cluster


@bp.route("/c/<slug>/verwaltung/schutz", methods=["GET", "POST"])
@login_required
def protection_settings(slug: str):
    cluster = _reviewed_cluster_or_404(slug)
    user = viewer()
    form = ApprovalForm(obj=cluster)
    if form.validate_on_submit():
        try:
            protection.set_approval(user, cluster, form.approval_post_count.data)
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Die Schutzeinstellungen sind gespeichert."), "success")
            return redirect(url_for("manage.protection_settings", slug=cluster.slug))
    status = 400 if form.errors else 200
    return render_template("manage/protection.html", cluster=cluster, form=form, action=ActionForm(),
                           reject_form=RejectForm(), posts=protection.pending_posts(user, cluster)), status


@bp.post("/c/<slug>/verwaltung/freigaben/<int:post_id>/<any(freigeben, ablehnen):decision>")
@login_required
def post_decide(slug: str, post_id: int, decision: str):
    cluster = _reviewed_cluster_or_404(slug)
    form = RejectForm()
    if form.validate_on_submit():
        if decision == "freigeben":
            run_action(lambda: protection.approve(viewer(), cluster, post_id), _("Der Beitrag ist freigegeben."))
        else:
            run_action(lambda: protection.reject(viewer(), cluster, post_id, form.reason.data),
                 _("Der Beitrag ist abgelehnt und gelöscht."))
    return redirect(url_for("manage.protection_settings", slug=cluster.slug))


@bp.route("/t/<int:thread_id>/langsamer-modus", methods=["GET", "POST"])
@login_required
def slow_mode(thread_id: int):
    user = viewer()
    thread = db.session.get(Thread, thread_id)
    permissions.ensure_visible(thread is not None and permissions.can_view_thread(user, thread)
                               and permissions.can_set_slow_mode(user, thread))
    form = SlowModeForm(minutes=thread.slow_mode_minutes)
    if form.validate_on_submit():
        try:
            protection.set_slow_mode(user, thread, form.minutes.data, form.reason.data)
        except ServiceError as error:
            db.session.rollback()
            attach(form, error)
        else:
            flash(_("Der langsame Modus ist gespeichert."), "success")
            return redirect(url_for("threads.show", thread_id=thread.id))
    status = 400 if form.errors else 200
    return render_template("manage/slow_mode.html", thread=thread, form=form), status

"""Moderation pages and forms: thread and post tools, reports, the moderation log, best
practice and consent. Thin: every decision is the permission module's, every change a
service's. Forms work without JavaScript; a refused input re-renders its page with the
German message (status 400)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField, widgets

from forum import limits, permissions
from forum.auth import viewer
from forum.errors import ServiceError
from forum.extensions import db
from forum.models import Post, Thread
from forum.services import best_practice, moderation, reading, reports
from forum.web.forms import attach
from forum.web.threads import post_or_404, post_url, thread_or_404

bp = Blueprint("moderation", __name__)


@bp.record_once
def _globals(state) -> None:
    state.app.jinja_env.globals.update(moderation_open_reports=lambda: reports.open_count(viewer()),
                                       report_reasons=reports.REASONS)


class ConfirmForm(FlaskForm):
    """Only the CSRF token."""


class LockForm(FlaskForm):
    lock_reason = StringField(_l("Grund der Sperre (wird im Thema angezeigt)"))


class MoveForm(FlaskForm):
    board_id = SelectField(_l("Ziel-Brett"), choices=[], validate_choice=False)
    move_reason = StringField(_l("Grund (optional)"))


class ThreadEditForm(FlaskForm):
    title = StringField(_l("Titel"))
    tags = SelectMultipleField(_l("Themenfelder"), choices=[], validate_choice=False,
                               widget=widgets.ListWidget(prefix_label=False), option_widget=widgets.CheckboxInput())


class MergeForm(FlaskForm):
    target_thread_id = StringField(_l("Nummer des Ziel-Themas"), description=_l("steht in seiner Adresse: /t/<Nummer>"))
    merge_reason = StringField(_l("Grund (optional)"))


class ProposeForm(FlaskForm):
    target_board_id = SelectField(_l("Plattformweites Brett"), choices=[], validate_choice=False)


class HideForm(FlaskForm):
    hide_reason = StringField(_l("Grund des Ausblendens"))


class SplitForm(FlaskForm):
    split_title = StringField(_l("Titel des neuen Themas"))


class DeleteForm(FlaskForm):
    delete_reason = StringField(_l("Grund des Löschens"))


class SolutionForm(FlaskForm):
    post_id = HiddenField()


class ReportForm(FlaskForm):
    reason = RadioField(_l("Grund"), choices=list(reports.REASONS.items()), validate_choice=False)
    text = TextAreaField(_l("Beschreibung (bei „Sonstiges“ Pflicht)"))


class ResolveForm(FlaskForm):
    action = RadioField(_l("Maßnahme"), choices=list(reports.ACTIONS.items()), validate_choice=False)
    note = TextAreaField(_l("Notiz (an die Meldenden; bei „Autor/in kontaktieren“ an die Autorin bzw. den Autor)"))


def _fail(form: FlaskForm, error: ServiceError, fields: dict[str, str]) -> None:
    db.session.rollback()
    error.field = fields.get(error.field or "", error.field)
    attach(form, error)


# -- thread tools -----------------------------------------------------------------------------

def _thread_tools(thread: Thread, status: int = 200, **forms):
    user = viewer()
    permissions.ensure_can(permissions.can_moderate_thread(user, thread))
    boards = [] if thread.board.cluster_id is None else list(thread.board.cluster.boards)
    if thread.board.cluster_id is None:
        boards = reading.platform_boards(user)
    move = forms.get("move") or MoveForm(formdata=None)
    move.board_id.choices = [(str(b.id), b.name) for b in boards if b.id != thread.board_id and not b.is_archived]
    edit = forms.get("edit") or ThreadEditForm(formdata=None, title=thread.title, tags=[t.slug for t in thread.tags])
    edit.tags.choices = [(t.slug, t.name) for t in reading.themenfelder()]
    propose = forms.get("propose") or ProposeForm(formdata=None)
    propose.target_board_id.choices = [(str(b.id), b.name) for b in reading.platform_boards(user) if not b.is_archived]
    return render_template(
        "moderation/thread.html", thread=thread, confirm=ConfirmForm(), move=move, edit=edit, propose=propose,
        lock=forms.get("lock") or LockForm(formdata=None, lock_reason=thread.lock_reason),
        merge=forms.get("merge") or MergeForm(formdata=None), proposals=best_practice.proposals_of(thread),
    ), status


@bp.get("/t/<int:thread_id>/moderation")
@login_required
def thread_tools(thread_id: int):
    return _thread_tools(thread_or_404(thread_id))


def _thread_action(thread_id: int, form: FlaskForm, key: str, act, done: str, fields: dict[str, str]):
    thread = thread_or_404(thread_id)
    if form.validate_on_submit():
        try:
            result = act(thread)
        except ServiceError as error:
            _fail(form, error, fields)
        else:
            flash(done, "success")
            return redirect(url_for("threads.show", thread_id=result.id))
    return _thread_tools(thread, 400, **{key: form})


@bp.post("/t/<int:thread_id>/sperren")
@login_required
def lock(thread_id: int):
    form = LockForm()
    return _thread_action(thread_id, form, "lock", lambda t: moderation.lock(viewer(), t, form.lock_reason.data),
                          _("Das Thema ist gesperrt."), {"reason": "lock_reason"})


@bp.post("/t/<int:thread_id>/entsperren")
@login_required
def unlock(thread_id: int):
    return _thread_action(thread_id, ConfirmForm(), "confirm", lambda t: moderation.unlock(viewer(), t),
                          _("Das Thema ist wieder offen."), {})


@bp.post("/t/<int:thread_id>/anheften")
@login_required
def pin(thread_id: int):
    return _thread_action(thread_id, ConfirmForm(), "confirm", lambda t: moderation.set_pinned(viewer(), t, True),
                          _("Das Thema ist angeheftet."), {})


@bp.post("/t/<int:thread_id>/abheften")
@login_required
def unpin(thread_id: int):
    return _thread_action(thread_id, ConfirmForm(), "confirm", lambda t: moderation.set_pinned(viewer(), t, False),
                          _("Das Thema ist nicht mehr angeheftet."), {})


@bp.post("/t/<int:thread_id>/verschieben")
@login_required
def move(thread_id: int):
    form = MoveForm()
    return _thread_action(thread_id, form, "move",
                          lambda t: moderation.move(viewer(), t, form.board_id.data, form.move_reason.data),
                          _("Das Thema ist verschoben."), {"reason": "move_reason"})


@bp.post("/t/<int:thread_id>/titel")
@login_required
def edit_thread(thread_id: int):
    form = ThreadEditForm()
    return _thread_action(thread_id, form, "edit",
                          lambda t: moderation.edit_thread(viewer(), t, form.title.data, form.tags.data or []),
                          _("Titel und Themenfelder sind gespeichert."), {})


@bp.post("/t/<int:thread_id>/zusammenfuehren")
@login_required
def merge(thread_id: int):
    form = MergeForm()
    return _thread_action(thread_id, form, "merge",
                          lambda t: moderation.merge(viewer(), t, form.target_thread_id.data, form.merge_reason.data),
                          _("Die Themen sind zusammengeführt."), {"reason": "merge_reason"})


@bp.post("/t/<int:thread_id>/best-practice")
@login_required
def set_best_practice(thread_id: int):
    value = request.form.get("wert") != "aus"
    return _thread_action(thread_id, ConfirmForm(), "confirm",
                          lambda t: best_practice.set_best_practice(viewer(), t, value),
                          _("Als Best Practice markiert.") if value else _("Best-Practice-Markierung entfernt."), {})


@bp.post("/t/<int:thread_id>/vorschlagen")
@login_required
def propose(thread_id: int):
    form = ProposeForm()
    thread = thread_or_404(thread_id)
    if form.validate_on_submit():
        try:
            proposal = best_practice.propose(viewer(), thread, form.target_board_id.data or None)
        except ServiceError as error:
            _fail(form, error, {"board_id": "target_board_id"})
        else:
            flash(_("Der Vorschlag ist angelegt; alle Autor/innen werden um Zustimmung gebeten."), "success")
            return redirect(url_for("moderation.proposal", proposal_id=proposal.id))
    return _thread_tools(thread, 400, propose=form)


@bp.post("/t/<int:thread_id>/loesung")
@login_required
def solution(thread_id: int):
    thread = thread_or_404(thread_id)
    form = SolutionForm()
    if form.validate_on_submit():
        try:
            best_practice.mark_solution(viewer(), thread, form.post_id.data or None)
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("threads.show", thread_id=thread.id))
        flash(_("Die Lösung ist markiert.") if form.post_id.data else _("Die Lösungsmarkierung ist entfernt."),
              "success")
    target = db.session.get(Post, thread.solution_post_id) if thread.solution_post_id else None
    return redirect(post_url(target) if target else url_for("threads.show", thread_id=thread.id))


# -- post tools -------------------------------------------------------------------------------

def _post_tools(post: Post, status: int = 200, **forms):
    permissions.ensure_can(permissions.can_moderate_post(viewer(), post))
    return render_template(
        "moderation/post.html", post=post, thread=post.thread, confirm=ConfirmForm(),
        hide=forms.get("hide") or HideForm(formdata=None), split=forms.get("split") or SplitForm(formdata=None),
        delete=forms.get("delete") or DeleteForm(formdata=None),
    ), status


@bp.get("/p/<int:post_id>/moderation")
@login_required
def post_tools(post_id: int):
    return _post_tools(post_or_404(post_id))


def _post_action(post_id: int, form: FlaskForm, key: str, act, done: str, fields: dict[str, str]):
    post = post_or_404(post_id)
    if form.validate_on_submit():
        try:
            target = act(post)
        except ServiceError as error:
            _fail(form, error, fields)
        else:
            flash(done, "success")
            return redirect(target)
    return _post_tools(post, 400, **{key: form})


@bp.post("/p/<int:post_id>/ausblenden")
@login_required
def hide(post_id: int):
    form = HideForm()
    return _post_action(post_id, form, "hide",
                        lambda p: post_url(moderation.hide(viewer(), p, form.hide_reason.data)),
                        _("Der Beitrag ist ausgeblendet."), {"reason": "hide_reason"})


@bp.post("/p/<int:post_id>/einblenden")
@login_required
def unhide(post_id: int):
    return _post_action(post_id, ConfirmForm(), "confirm", lambda p: post_url(moderation.unhide(viewer(), p)),
                        _("Der Beitrag ist wieder sichtbar."), {})


@bp.post("/p/<int:post_id>/abtrennen")
@login_required
def split(post_id: int):
    form = SplitForm()
    return _post_action(post_id, form, "split",
                        lambda p: url_for("threads.show",
                                          thread_id=moderation.split(viewer(), p, form.split_title.data).id),
                        _("Der Teilbaum ist jetzt ein eigenes Thema."), {"title": "split_title"})


@bp.post("/p/<int:post_id>/entfernen")
@login_required
def delete(post_id: int):
    form = DeleteForm()
    return _post_action(post_id, form, "delete",
                        lambda p: post_url(moderation.delete_post(viewer(), p, form.delete_reason.data)),
                        _("Der Beitrag ist gelöscht."), {"reason": "delete_reason"})


@bp.route("/p/<int:post_id>/melden", methods=["GET", "POST"])
@login_required
@limits.reports
def report_post(post_id: int):
    post = post_or_404(post_id)
    permissions.ensure_can(permissions.can_report_post(viewer(), post))
    form = ReportForm()
    if form.validate_on_submit():
        try:
            reports.create_report(viewer(), post, form.reason.data, form.text.data)
        except ServiceError as error:
            _fail(form, error, {})
        else:
            flash(_("Danke! Die Moderation sieht sich den Beitrag an; Sie erfahren das Ergebnis."), "success")
            return redirect(post_url(post))
    status = 400 if request.method == "POST" else 200
    return render_template("moderation/report_form.html", post=post, form=form), status


from forum.web import moderation_queues  # noqa: E402,F401  (the queues, the log and consent pages on bp)

"""Reports of posts and the two lists managers read: the open-reports queue and the
moderation log. Writes commit once, with their log rows and notifications."""
from __future__ import annotations

import dataclasses
import datetime as dt

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from forum import permissions
from forum.errors import ConflictError, NotAllowedError, ValidationError
from forum.extensions import db
from forum.models import (
    Board,
    ModerationLogEntry,
    Post,
    Report,
    ReportAction,
    ReportReason,
    ReportState,
    Thread,
    User,
    utcnow,
)
from forum.permissions import Viewer
from forum.services import moderation, modlog, notify, validation

REASONS = {
    ReportReason.SPAM.value: _l("Spam"),
    ReportReason.OFFENSIVE.value: _l("Beleidigend"),
    ReportReason.CONFIDENTIAL.value: _l("Vertrauliche Information"),
    ReportReason.OTHER.value: _l("Sonstiges"),
}
ACTIONS = {
    ReportAction.HIDE.value: _l("Beitrag ausblenden"),
    ReportAction.KEEP.value: _l("Beitrag belassen"),
    ReportAction.CONTACT.value: _l("Autor/in kontaktieren"),
}
STATES = ("open", "resolved", "all")
MAX_TEXT = 1000


# -- reporting and resolving ------------------------------------------------------------------

def _reason(reason: object, text: object) -> tuple[str, str]:
    """A reason code with an optional text; a free text (API clients) counts as "sonstiges"."""
    clean_text = validation.text(text, "text", _("Die Beschreibung"), max_length=MAX_TEXT, required=False,
                                 multiline=True)
    if isinstance(reason, str) and reason.strip() in REASONS:
        code = reason.strip()
    else:
        free = validation.text(reason, "reason", _("Der Grund"), max_length=MAX_TEXT, required=False)
        if not free:
            raise ValidationError(_("Bitte wählen Sie einen Grund für die Meldung."), "reason")
        code, clean_text = ReportReason.OTHER.value, (free + ("\n\n" + clean_text if clean_text else ""))[:MAX_TEXT]
    if code == ReportReason.OTHER.value and not clean_text:
        raise ValidationError(_("Bitte beschreiben Sie bei „Sonstiges“ kurz, worum es geht."), "text")
    return code, clean_text


def create_report(user: Viewer, post: Post, reason: object, text: object = "") -> Report:
    permissions.ensure_visible(permissions.can_view_post(user, post))
    if not permissions.can_report_post(user, post):
        raise NotAllowedError(_("Diesen Beitrag können Sie nicht melden."))
    code, clean_text = _reason(reason, text)
    duplicate = db.session.scalar(select(Report.id).where(
        Report.post_id == post.id, Report.reporter_id == user.id, Report.state == ReportState.OPEN.value))
    if duplicate is not None:
        raise ConflictError(_("Sie haben diesen Beitrag bereits gemeldet; die Moderation kümmert sich darum."))
    report = Report(post_id=post.id, cluster_id=post.thread.board.cluster_id, reporter_id=user.id, reason=code,
                    text=clean_text, created_at=utcnow())
    db.session.add(report)
    db.session.commit()
    return report


def resolve(user: Viewer, report: Report, action: object, note: object) -> Report:
    """Resolves the report and every other open report of the same post; each reporter learns
    the outcome in-app."""
    permissions.ensure_visible(permissions.can_view_reports(user, report.cluster_id))
    if not report.is_open:
        raise ConflictError(_("Diese Meldung ist bereits erledigt."))
    if action not in ACTIONS:
        raise ValidationError(_("Bitte wählen Sie eine Maßnahme: ausblenden, belassen oder Autor/in kontaktieren."),
                              "action")
    clean_note = validation.text(note, "note", _("Die Notiz"), max_length=MAX_TEXT, multiline=True,
                                 required=action == ReportAction.CONTACT.value)
    post = report.post
    thread = post.thread
    cluster_id = thread.board.cluster_id
    if action == ReportAction.HIDE.value and not post.is_hidden and not post.is_deleted:
        moderation.hide_in_transaction(user, post,
                                       clean_note or _("Gemeldet: %(reason)s", reason=REASONS[report.reason]))
    if action == ReportAction.CONTACT.value and post.author_id is not None:
        notify.notify(post.author_id, "moderation", user, cluster_id=cluster_id, thread_id=thread.id,
                      post_id=post.id, action="contact", note=clean_note)
    now = utcnow()
    resolved = list(db.session.scalars(select(Report).where(
        Report.post_id == post.id, Report.state == ReportState.OPEN.value).order_by(Report.id)))
    for item in resolved:
        item.state, item.resolved_at, item.resolved_by_id = ReportState.RESOLVED.value, now, user.id
        item.action, item.note = action, clean_note
        if item.reporter_id is not None:
            notify.notify(item.reporter_id, "report_outcome", user, cluster_id=cluster_id, thread_id=thread.id,
                          post_id=post.id, report_id=item.id, action=action, note=clean_note)
    modlog.record(user, cluster_id, "report.resolve", "report", report.id, clean_note, outcome=action,
                  post_id=post.id, thread_id=thread.id, reports=[item.id for item in resolved])
    db.session.commit()
    return report


# -- the queue ----------------------------------------------------------------------------------

REPORT_LOADS = (
    joinedload(Report.post).joinedload(Post.thread).joinedload(Thread.board).joinedload(Board.cluster),
    joinedload(Report.post).joinedload(Post.author),
    joinedload(Report.reporter), joinedload(Report.resolved_by),
)


def _cluster_condition(cluster_id: int | None):
    return Report.cluster_id.is_(None) if cluster_id is None else Report.cluster_id == cluster_id


def parse_state(value: str | None) -> str:
    state = value or "open"
    if state not in STATES:
        raise ValidationError(_("„state“ muss „open“, „resolved“ oder „all“ sein."), "state")
    return state


def queue(cluster_id: int | None, state: str, page: int, per_page: int) -> tuple[list[Report], int]:
    """A cluster's reports (``None``: the platform-wide boards'): open ones oldest first."""
    query = select(Report).where(_cluster_condition(cluster_id))
    if state != "all":
        query = query.where(Report.state == state)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = Report.id.asc() if state == "open" else Report.id.desc()
    items = list(db.session.scalars(query.options(*REPORT_LOADS).order_by(order)
                                    .offset((page - 1) * per_page).limit(per_page)))
    return items, total


def open_reports_for(user: Viewer) -> list[Report]:
    """Open reports of every queue the viewer handles (the overview page)."""
    query = (select(Report).where(Report.state == ReportState.OPEN.value,
                                  permissions.moderated_cluster_condition(user, Report.cluster_id))
             .options(*REPORT_LOADS).order_by(Report.id).limit(200))
    return list(db.session.scalars(query))


def open_count(user: Viewer) -> int:
    """One cheap query for the navigation; 0 without asking for anyone who moderates nothing."""
    if not permissions.can_moderate_anything(user):
        return 0
    return db.session.scalar(select(func.count(Report.id)).where(
        Report.state == ReportState.OPEN.value, permissions.moderated_cluster_condition(user, Report.cluster_id))) or 0


# -- the moderation log -------------------------------------------------------------------------

@dataclasses.dataclass
class LogFilter:
    action: str = ""
    actor: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def as_args(self) -> dict:
        args = {"aktion": self.action, "von": self.actor,
                "ab": self.date_from.isoformat() if self.date_from else "",
                "bis": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in args.items() if v}


def _date(value: str | None, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(_("Bitte geben Sie das Datum als JJJJ-MM-TT an."), field) from None


def parse_filter(action: str | None, actor: str | None, date_from: str | None, date_to: str | None) -> LogFilter:
    clean_action = validation.text(action, "action", _("Die Aktion"), max_length=40, required=False)
    clean_actor = validation.text(actor, "actor", _("Der Benutzername"), max_length=40, required=False)
    return LogFilter(clean_action, clean_actor.lower(), _date(date_from, "from"), _date(date_to, "to"))


def log_page(cluster_id: int | None, log_filter: LogFilter, page: int,
             per_page: int) -> tuple[list[ModerationLogEntry], int]:
    """Newest first; ``cluster_id=None`` is the platform level."""
    entry = ModerationLogEntry
    query: Select = select(entry).where(
        entry.cluster_id.is_(None) if cluster_id is None else entry.cluster_id == cluster_id)
    if log_filter.action:
        query = query.where(entry.action == log_filter.action)
    if log_filter.actor:
        query = query.where(
            entry.actor_id == select(User.id).where(User.username == log_filter.actor).scalar_subquery())
    if log_filter.date_from:
        query = query.where(entry.created_at >= dt.datetime.combine(log_filter.date_from, dt.time()))
    if log_filter.date_to:
        query = query.where(entry.created_at < dt.datetime.combine(log_filter.date_to + dt.timedelta(days=1),
                                                                   dt.time()))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(db.session.scalars(query.options(joinedload(entry.actor)).order_by(entry.id.desc())
                                    .offset((page - 1) * per_page).limit(per_page)))
    return items, total


LOG_ACTIONS = {
    "thread.pin": _l("Thema angeheftet"), "thread.unpin": _l("Anheften aufgehoben"),
    "thread.lock": _l("Thema gesperrt"), "thread.unlock": _l("Thema entsperrt"),
    "thread.move": _l("Thema verschoben"), "thread.edit": _l("Titel/Themenfelder geändert"),
    "thread.split": _l("Thema geteilt"), "thread.merge": _l("Themen zusammengeführt"),
    "thread.solution": _l("Lösung markiert"), "thread.best_practice": _l("Best Practice markiert"),
    "thread.best_practice_removed": _l("Best Practice entfernt"),
    "best_practice.propose": _l("Best Practice vorgeschlagen"),
    "best_practice.publish": _l("Best Practice veröffentlicht"),
    "best_practice.refused": _l("Best-Practice-Vorschlag abgelehnt"),
    "post.hide": _l("Beitrag ausgeblendet"), "post.unhide": _l("Beitrag wieder eingeblendet"),
    "post.edit": _l("Beitrag bearbeitet"), "post.delete": _l("Beitrag gelöscht"),
    "report.resolve": _l("Meldung erledigt"),
    "member.admin_add": _l("Mitglied durch Plattform-Admin hinzugefügt"),
    "member.admin_self_add": _l("Plattform-Admin ist selbst beigetreten"),
}


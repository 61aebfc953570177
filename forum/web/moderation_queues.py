"""The moderation blueprint's reading pages: report queues, one report with its resolve form,
the moderation log, a cluster's best practice and a best-practice proposal with consent."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload

from forum import permissions
from forum.auth import viewer
from forum.errors import ServiceError, ValidationError
from forum.extensions import db
from forum.models import BestPracticeProposal, ProposalConsent, Report
from forum.services import best_practice, reports, validation
from forum.web.clusters import cluster_or_404
from forum.web.moderation import ConfirmForm, ResolveForm, _fail, bp

PER_PAGE = 50
MAX_ID = 2**31 - 1


def _page() -> int:
    value = request.args.get("page", "1")
    return validation.page_number(value)


def _pages(total: int) -> int:
    return max(1, -(-total // PER_PAGE))


@bp.get("/moderation/meldungen")
@login_required
def queue():
    """Every open report the viewer handles, across their clusters (and platform-wide for admins)."""
    user = viewer()
    permissions.ensure_visible(permissions.can_moderate_anything(user))
    return render_template("moderation/queue.html", reports=reports.open_reports_for(user))


@bp.get("/c/<slug>/meldungen")
@login_required
def cluster_reports(slug: str):
    cluster = cluster_or_404(slug)
    permissions.ensure_can(permissions.can_view_reports(viewer(), cluster.id))
    state = request.args.get("status", "open")
    if state not in reports.STATES:
        state = "open"
    page = _page()
    items, total = reports.queue(cluster.id, state, page, PER_PAGE)
    return render_template("moderation/reports.html", cluster=cluster, reports=items, state=state, page=page,
                           pages=_pages(total), total=total)


@bp.route("/meldungen/<int:report_id>", methods=["GET", "POST"])
@login_required
def report(report_id: int):
    item = db.session.get(Report, report_id) if report_id <= MAX_ID else None
    permissions.ensure_visible(item is not None and permissions.can_view_reports(viewer(), item.cluster_id))
    form = ResolveForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                reports.resolve(viewer(), item, form.action.data, form.note.data)
            except ServiceError as error:
                _fail(form, error, {})
            else:
                flash(_("Die Meldung ist erledigt; die Meldenden werden benachrichtigt."), "success")
                cluster = item.post.thread.board.cluster
                return redirect(url_for("moderation.cluster_reports", slug=cluster.slug) if cluster
                                else url_for("moderation.queue"))
    return render_template("moderation/report.html", report=item, form=form), status


def _log(cluster, cluster_id: int | None):
    user = viewer()
    permissions.ensure_can(permissions.can_view_modlog(user, cluster_id))
    args = request.args
    status = 200
    try:
        log_filter = reports.parse_filter(args.get("aktion"), args.get("von"), args.get("ab"), args.get("bis"))
    except ValidationError as error:
        flash(error.message, "error")
        log_filter, status = reports.LogFilter(), 400
    page = _page()
    entries, total = reports.log_page(cluster_id, log_filter, page, PER_PAGE)
    return render_template("moderation/log.html", cluster=cluster, entries=entries, filter=log_filter, page=page,
                           pages=_pages(total), total=total, actions=reports.LOG_ACTIONS,
                           details=permissions.can_read_modlog_details(user, cluster_id)), status


@bp.get("/c/<slug>/protokoll")
@login_required
def log(slug: str):
    cluster = cluster_or_404(slug)
    return _log(cluster, cluster.id)


@bp.get("/moderation/protokoll")
@login_required
def platform_log():
    """The platform level (platform-wide boards, accounts, clusters): admins only."""
    permissions.ensure_visible(permissions.can_administer(viewer()))
    return _log(None, None)


@bp.get("/c/<slug>/best-practice")
@login_required
def best_practice_page(slug: str):
    cluster = cluster_or_404(slug)
    permissions.ensure_visible(permissions.can_view_best_practice(viewer(), cluster))
    return render_template("moderation/best_practice.html", cluster=cluster,
                           threads=best_practice.cluster_best_practice(cluster))


def _proposal_or_404(proposal_id: int) -> BestPracticeProposal:
    proposal = db.session.get(  # the consents and their people in one more query, not one per author
        BestPracticeProposal, proposal_id,
        options=[selectinload(BestPracticeProposal.consents).joinedload(ProposalConsent.user)],
    ) if proposal_id <= MAX_ID else None
    if proposal is None:
        abort(404)
    permissions.ensure_visible(
        permissions.can_view_proposal(viewer(), proposal, {c.user_id for c in proposal.consents}))
    return proposal


@bp.get("/vorschlaege/<int:proposal_id>")
@login_required
def proposal(proposal_id: int):
    item = _proposal_or_404(proposal_id)
    user = viewer()
    mine = next((c for c in item.consents if c.user_id == user.id), None)
    return render_template("moderation/proposal.html", proposal=item, mine=mine, form=ConfirmForm(),
                           readable=permissions.can_view_thread(user, item.thread))


@bp.post("/vorschlaege/<int:proposal_id>/entscheidung")
@login_required
def decide(proposal_id: int):
    item = _proposal_or_404(proposal_id)
    form: FlaskForm = ConfirmForm()
    if form.validate_on_submit():
        agree = request.form.get("entscheidung") == "ja"
        try:
            best_practice.decide(viewer(), item, agree)
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            flash(_("Danke, Ihre Zustimmung ist gespeichert.") if agree
                  else _("Sie haben abgelehnt; der Vorschlag ist beendet."), "success")
    return redirect(url_for("moderation.proposal", proposal_id=proposal_id))

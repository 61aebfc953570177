"""Moderation endpoints of /api/v1 (CONTRACT.md rows for threads, posts, reports and the log),
plus split, merge, title edit, solution, best practice and consent. Documented in
``openapi_moderation.py``. Every view looks its object up (404 when unknown or not visible)
and calls the same service as the web pages."""
from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _

from forum import limits, permissions
from forum.api import bp, serializers
from forum.api.common import (
    MAX_ID,
    cluster_or_404,
    json_body,
    page_args,
    page_of,
    post_or_404,
    string_list_field,
    thread_or_404,
)
from forum.auth import viewer
from forum.errors import ValidationError
from forum.extensions import db
from forum.models import BestPracticeProposal, Report
from forum.services import best_practice, moderation, reports

LOG_PER_PAGE = 50


def _optional_body() -> dict:
    """Actions whose body is optional (lock, pin …): an empty request is ``{}``."""
    if not request.get_data(cache=True):
        return {}
    return json_body()


# -- threads --------------------------------------------------------------------------------

@bp.post("/threads/<int:thread_id>/lock")
def lock_thread(thread_id: int):
    thread = thread_or_404(thread_id)
    data = _optional_body()
    return serializers.thread(moderation.lock(viewer(), thread, data.get("reason", "")))


@bp.post("/threads/<int:thread_id>/unlock")
def unlock_thread(thread_id: int):
    thread = thread_or_404(thread_id)
    data = _optional_body()
    return serializers.thread(moderation.unlock(viewer(), thread, data.get("reason", "")))


@bp.post("/threads/<int:thread_id>/pin")
def pin_thread(thread_id: int):
    thread = thread_or_404(thread_id)
    _optional_body()
    return serializers.thread(moderation.set_pinned(viewer(), thread, True))


@bp.post("/threads/<int:thread_id>/unpin")
def unpin_thread(thread_id: int):
    thread = thread_or_404(thread_id)
    _optional_body()
    return serializers.thread(moderation.set_pinned(viewer(), thread, False))


@bp.post("/threads/<int:thread_id>/move")
def move_thread(thread_id: int):
    thread = thread_or_404(thread_id)
    data = json_body()
    return serializers.thread(moderation.move(viewer(), thread, data.get("board_id"), data.get("reason", "")))


@bp.patch("/threads/<int:thread_id>")
def edit_thread(thread_id: int):
    thread = thread_or_404(thread_id)
    data = json_body()
    tags = string_list_field(data, "tags") if "tags" in data else None
    return serializers.thread(moderation.edit_thread(viewer(), thread, data.get("title", thread.title), tags))


@bp.post("/threads/<int:thread_id>/merge")
def merge_thread(thread_id: int):
    thread = thread_or_404(thread_id)
    data = json_body()
    target = moderation.merge(viewer(), thread, data.get("target_thread_id"), data.get("reason", ""))
    return serializers.thread(target)


@bp.post("/posts/<int:post_id>/split")
def split_post(post_id: int):
    post = post_or_404(post_id)
    data = json_body()
    new = moderation.split(viewer(), post, data.get("title"), data.get("board_id"), data.get("reason", ""))
    return serializers.thread(new), 201


@bp.post("/threads/<int:thread_id>/solution")
def thread_solution(thread_id: int):
    thread = thread_or_404(thread_id)
    data = json_body()
    if "post_id" not in data:
        raise ValidationError(_("Das Feld „%(name)s“ fehlt.", name="post_id"), "post_id")
    return serializers.thread(best_practice.mark_solution(viewer(), thread, data["post_id"]))


@bp.post("/threads/<int:thread_id>/best-practice")
def mark_best_practice(thread_id: int):
    thread = thread_or_404(thread_id)
    return serializers.thread(best_practice.set_best_practice(viewer(), thread, True))


@bp.delete("/threads/<int:thread_id>/best-practice")
def unmark_best_practice(thread_id: int):
    thread = thread_or_404(thread_id)
    return serializers.thread(best_practice.set_best_practice(viewer(), thread, False))


@bp.post("/threads/<int:thread_id>/best-practice-proposals")
def propose_best_practice(thread_id: int):
    thread = thread_or_404(thread_id)
    data = _optional_body()
    return serializers.proposal(best_practice.propose(viewer(), thread, data.get("board_id"))), 201


@bp.post("/best-practice-proposals/<int:proposal_id>/consent")
def consent(proposal_id: int):
    proposal = db.session.get(BestPracticeProposal, proposal_id) if 0 < proposal_id <= MAX_ID else None
    if proposal is None:
        abort(404)
    data = json_body()
    agree = data.get("agree")
    if not isinstance(agree, bool):
        raise ValidationError(_("„agree“ muss true oder false sein."), "agree")
    return serializers.proposal(best_practice.decide(viewer(), proposal, agree))


# -- posts and reports ------------------------------------------------------------------------

@bp.post("/posts/<int:post_id>/hide")
def hide_post(post_id: int):
    post = post_or_404(post_id)
    data = json_body()
    return serializers.post(viewer(), moderation.hide(viewer(), post, data.get("reason")))


@bp.post("/posts/<int:post_id>/unhide")
def unhide_post(post_id: int):
    post = post_or_404(post_id)
    data = _optional_body()
    return serializers.post(viewer(), moderation.unhide(viewer(), post, data.get("reason", "")))


@bp.post("/posts/<int:post_id>/reports")
@limits.reports
def report_post(post_id: int):
    post = post_or_404(post_id)
    data = json_body()
    report = reports.create_report(viewer(), post, data.get("reason"), data.get("text", ""))
    return serializers.report(viewer(), report), 201


@bp.get("/clusters/<slug>/reports")
def cluster_reports(slug: str):
    cluster = cluster_or_404(slug)
    permissions.ensure_can(permissions.can_view_reports(viewer(), cluster.id))
    state = reports.parse_state(request.args.get("state"))
    page, per_page = page_args(50)
    items, total = reports.queue(cluster.id, state, page, per_page)
    return page_of([serializers.report(viewer(), r) for r in items], page, per_page, total)


@bp.post("/reports/<int:report_id>/resolve")
def resolve_report(report_id: int):
    report = db.session.get(Report, report_id) if 0 < report_id <= MAX_ID else None
    permissions.ensure_visible(report is not None and permissions.can_view_reports(viewer(), report.cluster_id))
    data = json_body()
    return serializers.report(viewer(), reports.resolve(viewer(), report, data.get("action"), data.get("note", "")))


@bp.get("/clusters/<slug>/modlog")
def cluster_modlog(slug: str):
    cluster = cluster_or_404(slug)
    user = viewer()
    permissions.ensure_can(permissions.can_view_modlog(user, cluster.id))
    log_filter = reports.parse_filter(request.args.get("action"), request.args.get("actor"),
                                      request.args.get("from"), request.args.get("to"))
    page, per_page = page_args(LOG_PER_PAGE)
    items, total = reports.log_page(cluster.id, log_filter, page, per_page)
    details = permissions.can_read_modlog_details(user, cluster.id)
    return page_of([serializers.log_entry(e, details) for e in items], page, per_page, total)

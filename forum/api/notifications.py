"""/api/v1 notifications (CONTRACT.md "GET /notifications"), marking them read, watching and
reactions; documented in ``openapi_notifications.py``."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from forum.api import bp, serializers
from forum.api.common import board_or_404, cluster_or_404, json_body, page_args, page_of, post_or_404, thread_or_404
from forum.auth import viewer
from forum.errors import ValidationError
from forum.models import Notification
from forum.models.util import isoformat
from forum.services import notification_text, notifications, reactions, watching

MAX_IDS = 500


def _notification(line: notification_text.Shown) -> dict:
    n: Notification = line.notification
    return {
        "id": n.id,
        "kind": n.kind,
        "category": notifications.category_of(n.kind),
        "text": line.text,
        "url": line.url,
        "available": line.available,
        "actor": serializers.author(n.actor),
        "cluster_id": n.cluster_id if line.available else None,
        "thread_id": n.thread_id if line.available else None,
        "post_id": n.post_id if line.available else None,
        "created_at": isoformat(n.created_at),
        "read_at": isoformat(n.read_at),
    }


def _unread_arg() -> bool:
    value = request.args.get("unread", "0")
    if value not in ("0", "1", "true", "false"):
        raise ValidationError(_("„unread“ muss 1 oder 0 sein."), "unread")
    return value in ("1", "true")


@bp.get("/notifications")
def list_notifications():
    user = viewer()
    page, per_page = page_args(30)
    rows, total = notifications.page(user, page, per_page, unread_only=_unread_arg())
    lines = notification_text.present(user, rows, group=False)
    return page_of([_notification(line) for line in lines], page, per_page, total)


@bp.post("/notifications/read")
def read_notifications():
    data = json_body()
    user = viewer()
    ids = data.get("ids")
    ids_ok = isinstance(ids, list) and len(ids) <= MAX_IDS and all(
        isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31 for i in ids)
    # Each field that is sent must be valid, also "ids" beside "all" (found by fuzzing).
    if (("all" in data and data["all"] is not True) or ("ids" in data and not ids_ok)
            or not data.keys() & {"all", "ids"}):
        raise ValidationError(_("Bitte senden Sie „ids“ (Liste von Nummern) oder „all“: true."), "ids")
    marked = notifications.mark_read(user) if data.get("all") is True else notifications.mark_read(user, ids)
    return {"marked": marked, "unread": notifications.unread_count(user)}


def _watch(target_type: str, target_id: int) -> dict:
    level = watching.set_level(viewer(), target_type, target_id, json_body().get("level"))
    return {"target_type": target_type, "target_id": target_id, "level": level}


@bp.put("/threads/<int:thread_id>/watch")
def watch_thread(thread_id: int):
    return _watch("thread", thread_or_404(thread_id).id)


@bp.put("/boards/<int:board_id>/watch")
def watch_board(board_id: int):
    return _watch("board", board_or_404(board_id).id)


@bp.put("/clusters/<slug>/watch")
def watch_cluster(slug: str):
    return _watch("cluster", cluster_or_404(slug).id)


def _reactions(post_id: int) -> dict:
    user = viewer()
    counts = reactions.summary(user, [post_id])[post_id]
    return {"post_id": post_id, "items": [
        {"kind": c.kind, "symbol": c.symbol, "label": c.label, "count": c.count, "mine": c.mine, "names": c.names}
        for c in counts]}


@bp.get("/posts/<int:post_id>/reactions")
def post_reactions(post_id: int):
    return _reactions(post_or_404(post_id).id)


@bp.put("/posts/<int:post_id>/reactions/<kind>")
def add_reaction(post_id: int, kind: str):
    post = post_or_404(post_id)
    reactions.set_reaction(viewer(), post, kind, True)
    return _reactions(post.id)


@bp.delete("/posts/<int:post_id>/reactions/<kind>")
def remove_reaction(post_id: int, kind: str):
    post = post_or_404(post_id)
    reactions.set_reaction(viewer(), post, kind, False)
    return _reactions(post.id)

"""Protective settings of a cluster: approval of new members' first posts, slow mode per
thread, and the German refusals for archived boards and suspended members.

``posting`` calls ``check_new_thread`` and ``check_reply`` before it writes; everything
else here is the managers' side (settings, the approval queue).
"""
from __future__ import annotations

import datetime as dt

from flask_babel import format_datetime, gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from forum import permissions
from forum.errors import NotAllowedError, ValidationError
from forum.extensions import db
from forum.models import Board, Cluster, Post, Thread, utcnow
from forum.permissions import Viewer
from forum.services import modlog

MAX_APPROVAL_POSTS = 50
MAX_SLOW_MODE_MINUTES = 7 * 24 * 60


def _when(value: dt.datetime) -> str:
    return format_datetime(value.replace(tzinfo=dt.UTC), "dd.MM.yyyy, HH:mm")


def _refuse_archived_or_suspended(user: Viewer, board: Board) -> None:
    if board.is_archived and permissions.can_view_board(user, board):
        raise NotAllowedError(_("Dieses Brett ist archiviert; es kann nur noch gelesen werden."))
    suspension = permissions.cluster_suspension(user, board.cluster_id)
    if suspension is not None:
        message = _("Sie sind in diesem Cluster gesperrt und können nur lesen.")
        if suspension.suspended_until:
            message += " " + _("Die Sperre endet am %(when)s Uhr.", when=_when(suspension.suspended_until))
        if suspension.suspension_reason:
            message += " " + _("Grund: %(reason)s", reason=suspension.suspension_reason)
        raise NotAllowedError(message)


def approval_required(user: Viewer, cluster_id: int | None) -> bool:
    """True while a member has fewer approved posts in the cluster than it asks for."""
    if cluster_id is None or permissions.can_manage_cluster(user, cluster_id) or user.id is None:
        return False
    wanted = db.session.scalar(select(Cluster.approval_post_count).where(Cluster.id == cluster_id)) or 0
    if wanted <= 0:
        return False
    approved = db.session.scalar(
        select(func.count()).select_from(
            select(Post.id).join(Thread, Thread.id == Post.thread_id).join(Board, Board.id == Thread.board_id)
            .where(Board.cluster_id == cluster_id, Post.author_id == user.id, Post.awaiting_approval.is_(False))
            .limit(wanted).subquery()
        )
    )
    return approved < wanted


def check_new_thread(user: Viewer, board: Board) -> None:
    _refuse_archived_or_suspended(user, board)
    if permissions.can_start_thread(user, board) and approval_required(user, board.cluster_id):
        raise NotAllowedError(_("Neue Themen können Sie beginnen, sobald Ihre ersten Beiträge in diesem Cluster "
                                "freigegeben sind. Antworten sind schon möglich; sie erscheinen nach der Freigabe."))


def check_reply(user: Viewer, thread: Thread) -> bool:
    """Raises the German refusal for archived boards, suspensions and slow mode; answers
    whether the reply has to wait for a manager's approval."""
    _refuse_archived_or_suspended(user, thread.board)
    if not permissions.can_reply(user, thread):
        return False
    minutes = thread.slow_mode_minutes or 0
    if minutes > 0 and not permissions.is_exempt_from_slow_mode(user, thread):
        last = db.session.scalar(select(func.max(Post.created_at)).where(Post.thread_id == thread.id,
                                                                        Post.author_id == user.id))
        if last is not None:
            allowed_at = last + dt.timedelta(minutes=minutes)
            if allowed_at > utcnow():
                raise NotAllowedError(_(
                    "Langsamer Modus: In diesem Thema ist ein Beitrag alle %(minutes)s Minuten möglich. "
                    "Sie können ab %(when)s Uhr wieder schreiben.", minutes=minutes, when=_when(allowed_at)))
    return approval_required(user, thread.board.cluster_id)


# -- settings -------------------------------------------------------------------------------

def _minutes(value: object, field: str, label: str, maximum: int) -> int:
    if isinstance(value, str):
        value = value.strip() or "0"
        if not (value.isascii() and value.isdigit()):   # "²".isdigit() is true as well
            raise ValidationError(_("%(label)s muss eine ganze Zahl ab 0 sein.", label=label), field)
        value = int(value) if len(value) <= 12 else maximum + 1
    if value is None:
        value = 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(_("%(label)s muss eine ganze Zahl ab 0 sein.", label=label), field)
    if value > maximum:
        raise ValidationError(_("%(label)s darf höchstens %(max)s sein.", label=label, max=maximum), field)
    return value


def set_approval(actor: Viewer, cluster: Cluster, count: object) -> Cluster:
    permissions.ensure_visible(permissions.can_review_posts(actor, cluster.id))
    value = _minutes(count, "approval_post_count", _("Die Anzahl freizugebender Beiträge"), MAX_APPROVAL_POSTS)
    if value != cluster.approval_post_count:
        modlog.record(actor, cluster.id, "cluster.approval", "cluster", cluster.id, "",
                      before=cluster.approval_post_count, after=value)
        cluster.approval_post_count = value
    db.session.commit()
    return cluster


def set_slow_mode(actor: Viewer, thread: Thread, minutes: object, reason: object = "") -> Thread:
    permissions.ensure_visible(permissions.can_view_thread(actor, thread))
    if not permissions.can_set_slow_mode(actor, thread):
        raise NotAllowedError(_("Den langsamen Modus stellen nur die Clustermanager:innen ein."))
    value = _minutes(minutes, "minutes", _("Der Abstand in Minuten"), MAX_SLOW_MODE_MINUTES)
    note = reason.strip()[:500] if isinstance(reason, str) else ""
    if value != thread.slow_mode_minutes:
        modlog.record(actor, thread.board.cluster_id, "thread.slow_mode", "thread", thread.id, note,
                      before=thread.slow_mode_minutes, after=value)
        thread.slow_mode_minutes = value
    db.session.commit()
    return thread


# -- the approval queue -----------------------------------------------------------------------

def pending_posts(actor: Viewer, cluster: Cluster) -> list[Post]:
    permissions.ensure_visible(permissions.can_review_posts(actor, cluster.id))
    return list(db.session.scalars(
        select(Post).join(Thread, Thread.id == Post.thread_id).join(Board, Board.id == Thread.board_id)
        .where(Board.cluster_id == cluster.id, Post.awaiting_approval.is_(True), Post.deleted_at.is_(None))
        .options(joinedload(Post.author), joinedload(Post.thread))
        .order_by(Post.id)
    ))


def _pending_in(actor: Viewer, cluster: Cluster, post_id: int) -> Post:
    post = db.session.get(Post, post_id)
    permissions.ensure_visible(post is not None and post.awaiting_approval and post.deleted_at is None
                               and post.thread.board.cluster_id == cluster.id
                               and permissions.can_review_posts(actor, cluster.id))
    return post


def approve(actor: Viewer, cluster: Cluster, post_id: int) -> Post:
    from forum.services import posting

    post = _pending_in(actor, cluster, post_id)
    post.awaiting_approval = False
    posting.count_reply(post, utcnow())
    modlog.record(actor, cluster.id, "post.approve", "post", post.id, "")
    db.session.commit()
    return post


def reject(actor: Viewer, cluster: Cluster, post_id: int, reason: object = "") -> Post:
    """A rejected post stays deleted (its author still finds it in the revisions)."""
    post = _pending_in(actor, cluster, post_id)
    note = reason.strip()[:500] if isinstance(reason, str) else ""
    post.deleted_at = utcnow()
    post.deleted_by_id = actor.id
    modlog.record(actor, cluster.id, "post.reject", "post", post.id, note)
    db.session.commit()
    return post


def pending_count(cluster_id: int) -> int:
    return db.session.scalar(
        select(func.count(Post.id)).join(Thread, Thread.id == Post.thread_id).join(Board, Board.id == Thread.board_id)
        .where(Board.cluster_id == cluster_id, Post.awaiting_approval.is_(True), Post.deleted_at.is_(None))
    ) or 0

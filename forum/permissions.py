"""The one place that decides who may see or do what. Deny by default.

Every "may this viewer see this one object" predicate has a query twin that selects the
ids of everything the viewer may see; lists, feeds and search use the twin, so a list can
never show what a single page would refuse. ``tests/test_permissions.py`` checks that both
agree for every role.

A viewer is a ``User`` or ``Anonymous``; both answer ``is_admin``, ``is_member``,
``cluster_ids``, ``managed_cluster_ids`` and ``writable_cluster_ids``, so no caller checks
for ``None``.
"""
from __future__ import annotations

from typing import Protocol

from flask import abort, current_app
from flask_login import AnonymousUserMixin
from sqlalchemy import Select, false, or_, select

from forum.models import Board, Cluster, Post, Thread, User


class Viewer(Protocol):
    id: int | None
    is_admin: bool

    @property
    def is_member(self) -> bool: ...
    @property
    def cluster_ids(self) -> frozenset[int]: ...
    @property
    def managed_cluster_ids(self) -> frozenset[int]: ...
    @property
    def writable_cluster_ids(self) -> frozenset[int]: ...


class Anonymous(AnonymousUserMixin):
    """A visitor who is not signed in: sees the landing page and the log-in, nothing else."""

    id = None
    is_admin = False
    is_member = False
    cluster_ids: frozenset[int] = frozenset()
    managed_cluster_ids: frozenset[int] = frozenset()
    writable_cluster_ids: frozenset[int] = frozenset()
    username = ""
    display_name = ""
    locale = None


def _admins_read_all() -> bool:
    return bool(current_app.config.get("ADMINS_READ_ALL"))


# -- clusters -----------------------------------------------------------------------------

def can_see_cluster(user: Viewer, cluster: Cluster) -> bool:
    """Knows the cluster exists (its name, description and managers): members and admins."""
    return user.is_admin or cluster.id in user.cluster_ids


def visible_cluster_ids(user: Viewer) -> Select:
    if user.is_admin:
        return select(Cluster.id)
    return select(Cluster.id).where(Cluster.id.in_(user.cluster_ids))


def can_read_cluster(user: Viewer, cluster_id: int | None) -> bool:
    """Reads the cluster's boards, threads, posts and member list. Platform admins only when
    they are members too, unless the instance allows them to read everything."""
    if cluster_id is None:
        return user.is_member
    return cluster_id in user.cluster_ids or (user.is_admin and _admins_read_all())


def readable_cluster_ids(user: Viewer) -> Select:
    if user.is_admin and _admins_read_all():
        return select(Cluster.id)
    return select(Cluster.id).where(Cluster.id.in_(user.cluster_ids))


def can_manage_cluster(user: Viewer, cluster_id: int | None) -> bool:
    """Moderates the cluster: its managers; the platform-wide boards: platform admins."""
    if cluster_id is None:
        return user.is_admin
    return cluster_id in user.managed_cluster_ids


# -- boards -------------------------------------------------------------------------------

def can_view_board(user: Viewer, board: Board) -> bool:
    return can_read_cluster(user, board.cluster_id)


def visible_board_ids(user: Viewer) -> Select:
    """The query twin of ``can_view_board``."""
    platform_wide = Board.cluster_id.is_(None) if user.is_member else false()
    if user.is_admin and _admins_read_all():
        return select(Board.id).where(or_(Board.cluster_id.is_not(None), platform_wide))
    return select(Board.id).where(or_(Board.cluster_id.in_(user.cluster_ids), platform_wide))


def can_start_thread(user: Viewer, board: Board) -> bool:
    if not can_view_board(user, board) or board.is_archived or not user.is_member:
        return False
    return board.cluster_id is None or board.cluster_id in user.writable_cluster_ids


# -- threads and posts --------------------------------------------------------------------

def can_view_thread(user: Viewer, thread: Thread) -> bool:
    return can_view_board(user, thread.board)


def visible_thread_ids(user: Viewer) -> Select:
    return select(Thread.id).where(Thread.board_id.in_(visible_board_ids(user)))


def can_moderate_thread(user: Viewer, thread: Thread) -> bool:
    return can_view_thread(user, thread) and can_manage_cluster(user, thread.board.cluster_id)


def can_reply(user: Viewer, thread: Thread) -> bool:
    """Members who may write in the board; a locked thread only takes its moderators' replies."""
    if not can_start_thread(user, thread.board):
        return False
    return not thread.is_locked or can_manage_cluster(user, thread.board.cluster_id)


def can_view_post(user: Viewer, post: Post) -> bool:
    """A post awaiting approval is seen only by its author and the moderators."""
    if not can_view_thread(user, post.thread):
        return False
    return (not post.awaiting_approval or post.author_id == user.id
            or can_manage_cluster(user, post.thread.board.cluster_id))


def can_reply_to_post(user: Viewer, post: Post) -> bool:
    """A reply (and the reply form's context box) attaches only to a post the replier reads in
    the thread as everyone does: not one awaiting approval — it may never appear, and its text
    must not reach anyone but its author and the moderators through a quote or a parent —, not a
    deleted one, and not a hidden one whose text the replier may not read."""
    if post.awaiting_approval or post.is_deleted or not can_view_post(user, post):
        return False
    return not post.is_hidden or can_read_hidden_post(user, post)


def can_quote_post(user: Viewer, post: Post) -> bool:
    """Quoting copies the text: only of a post one may answer that has a readable text."""
    return can_reply_to_post(user, post) and not post.is_hidden


def can_read_hidden_post(user: Viewer, post: Post) -> bool:
    """A hidden post's text stays readable for its author and the moderators."""
    return can_view_post(user, post) and (
        post.author_id == user.id or can_manage_cluster(user, post.thread.board.cluster_id)
    )


def can_edit_post(user: Viewer, post: Post) -> bool:
    if post.is_deleted or not can_view_post(user, post):
        return False
    if can_manage_cluster(user, post.thread.board.cluster_id):
        return True
    return post.author_id == user.id and can_reply(user, post.thread) and not post.is_hidden


def can_delete_post(user: Viewer, post: Post) -> bool:
    return can_edit_post(user, post)


def can_view_revisions(user: Viewer, post: Post) -> bool:
    """Earlier versions of a deleted or hidden post stay with its author and the moderators."""
    if post.is_deleted or post.is_hidden:
        return can_read_hidden_post(user, post)
    return can_view_post(user, post)


# -- people -------------------------------------------------------------------------------

def can_view_profile(user: Viewer, other: User) -> bool:
    """Profiles are visible to oneself, admins, and people who share a cluster."""
    if not user.is_member:
        return False
    return user.id == other.id or user.is_admin or bool(user.cluster_ids & other.cluster_ids)


def can_view_members(user: Viewer, cluster: Cluster) -> bool:
    return can_read_cluster(user, cluster.id)


def can_administer(user: Viewer) -> bool:
    """Platform administration: clusters, accounts, platform-wide boards."""
    return user.is_admin


# -- cluster management -------------------------------------------------------------------
# Admins run the platform: they manage every cluster's members, invitations and boards. The
# queues that show content (posts awaiting approval, slow mode of a thread) belong to the
# cluster's managers. Members never see a queue; a manager of cluster A has no power in B.

def can_manage_members(user: Viewer, cluster_id: int) -> bool:
    """Member list with activity, roles, removal, suspension, join requests."""
    return user.is_admin or cluster_id in user.managed_cluster_ids


def member_managed_cluster_ids(user: Viewer) -> Select:
    """The query twin of ``can_manage_members``: clusters whose management pages the viewer uses."""
    if user.is_admin:
        return select(Cluster.id)
    return select(Cluster.id).where(Cluster.id.in_(user.managed_cluster_ids))


def can_invite(user: Viewer, cluster_id: int) -> bool:
    return can_manage_members(user, cluster_id)


def can_manage_boards(user: Viewer, cluster_id: int | None) -> bool:
    """Create, rename, describe, reorder and archive boards; platform-wide ones: admins."""
    if cluster_id is None:
        return user.is_admin
    return can_manage_members(user, cluster_id)


def can_review_posts(user: Viewer, cluster_id: int) -> bool:
    """The approval queue and the protective settings show content: managers only."""
    return cluster_id in user.managed_cluster_ids


def can_set_slow_mode(user: Viewer, thread: Thread) -> bool:
    return can_moderate_thread(user, thread)


def is_exempt_from_slow_mode(user: Viewer, thread: Thread) -> bool:
    return can_manage_cluster(user, thread.board.cluster_id)


def can_see_interest(user: Viewer, cluster_id: int | None) -> bool:
    """An expression of interest: admins, and the managers of the cluster it names."""
    return user.is_admin or (cluster_id is not None and cluster_id in user.managed_cluster_ids)


def interest_queue_condition(user: Viewer):
    """The query twin of ``can_see_interest`` (a WHERE clause on InterestExpression)."""
    from forum.models import InterestExpression
    if user.is_admin:
        return InterestExpression.id.is_not(None)
    return InterestExpression.cluster_id.in_(user.managed_cluster_ids)


def can_request_join(user: Viewer, cluster: Cluster) -> bool:
    return user.is_member and cluster.id not in user.cluster_ids


def pending_posts_condition(user: Viewer, cluster_id: int | None):
    """The query twin of the approval part of ``can_view_post`` for one cluster's thread."""
    if can_manage_cluster(user, cluster_id):
        return Post.id.is_not(None)
    if not user.id:
        return Post.awaiting_approval.is_(False)
    return or_(Post.awaiting_approval.is_(False), Post.author_id == user.id)


def cluster_suspension(user: Viewer, cluster_id: int | None):
    """The membership that keeps the viewer read-only in the cluster, or None."""
    if cluster_id is None or not user.is_member:
        return None
    for membership in user.memberships:
        if membership.cluster_id == cluster_id and not membership.is_active:
            return membership
    return None


# -- helpers for views --------------------------------------------------------------------

def ensure_visible(visible: bool) -> None:
    """Not visible means not found: outsiders never learn that private content exists."""
    if not visible:
        abort(404)


def ensure_can(allowed: bool) -> None:
    """Only for objects the viewer may already see: then a refusal is an honest 403."""
    if not allowed:
        abort(403)


# -- moderation ---------------------------------------------------------------------------
# Threads, posts, reports, best practice and the moderation log. A manager's powers end at the
# border of their cluster; the platform-wide boards are moderated by the platform admins.

def _cluster_of(thread: Thread) -> int | None:
    return thread.board.cluster_id


def can_moderate_post(user: Viewer, post: Post) -> bool:
    """Hide, unhide, split off, delete with a reason."""
    return can_view_post(user, post) and can_manage_cluster(user, _cluster_of(post.thread))


def can_report_post(user: Viewer, post: Post) -> bool:
    """Members who read the post flag it (not their own, not a deleted one)."""
    if post.is_deleted or post.awaiting_approval or post.author_id == user.id or not can_view_post(user, post) \
            or not user.is_member:
        return False   # a post awaiting approval goes through the approval queue, not a report
    cluster_id = _cluster_of(post.thread)
    return cluster_id is None or cluster_id in user.cluster_ids


def can_mark_solution(user: Viewer, thread: Thread) -> bool:
    """The thread's author (while they may write in the board) or a moderator."""
    if not can_view_thread(user, thread):
        return False
    if can_manage_cluster(user, _cluster_of(thread)):
        return True
    return thread.author_id == user.id and can_start_thread(user, thread.board)


def can_mark_best_practice(user: Viewer, thread: Thread) -> bool:
    return can_moderate_thread(user, thread)


def can_propose_best_practice(user: Viewer, thread: Thread) -> bool:
    """Only a cluster's own best practice travels to the platform-wide boards."""
    return can_moderate_thread(user, thread) and _cluster_of(thread) is not None and thread.is_best_practice


def can_view_best_practice(user: Viewer, cluster: Cluster) -> bool:
    return can_read_cluster(user, cluster.id)


def can_view_reports(user: Viewer, cluster_id: int | None) -> bool:
    """The queue of a cluster: its managers; of the platform-wide boards: the admins."""
    return can_manage_cluster(user, cluster_id)


def can_moderate_anything(user: Viewer) -> bool:
    """Has a reports queue at all (the navigation shows its count)."""
    return user.is_admin or bool(user.managed_cluster_ids)


def moderated_cluster_condition(user: Viewer, column):
    """The query twin of ``can_view_reports`` for a ``cluster_id`` column."""
    managed = column.in_(user.managed_cluster_ids) if user.managed_cluster_ids else false()
    return or_(managed, column.is_(None)) if user.is_admin else managed


def can_view_modlog(user: Viewer, cluster_id: int | None) -> bool:
    """The cluster's managers and the platform admins; never plain members."""
    return user.is_admin or can_manage_cluster(user, cluster_id)


def can_see_cluster_activity(user: Viewer, cluster_id: int | None) -> bool:
    """How much happens in a cluster and about what: per-board counts, the targets and free-text
    reasons of its log, the reasons of its members' suspensions. Only for those who read the
    cluster; a platform admin who is not a member manages its frame (members, boards, roles),
    not its content — these figures and reasons tell about its content."""
    return can_read_cluster(user, cluster_id) if cluster_id is not None else user.is_admin


def can_read_modlog_details(user: Viewer, cluster_id: int | None) -> bool:
    """What the entries point at (ids, titles, boards, links) and why (the free-text reason): only
    for those who read the cluster. An admin who is not a member sees who did what and when."""
    return can_view_modlog(user, cluster_id) and can_see_cluster_activity(user, cluster_id)


def can_view_proposal(user: Viewer, proposal, consent_user_ids: frozenset[int] | set[int]) -> bool:
    """The proposer, the cluster's managers, and the authors asked for consent."""
    return user.is_member and (
        user.id == proposal.proposer_id or user.id in consent_user_ids or can_manage_cluster(user, proposal.cluster_id)
    )


# -- notifications: reactions and watching ------------------------------------------------

def can_react(user: Viewer, post: Post) -> bool:
    """Members who may write in the board react to others' visible, readable posts."""
    if post.is_deleted or post.is_hidden or post.awaiting_approval or post.author_id == user.id or not user.is_member:
        return False
    board = post.thread.board
    return can_view_post(user, post) and (board.cluster_id is None or board.cluster_id in user.writable_cluster_ids)


def can_watch(user: Viewer, target_type: str, target: Thread | Board | Cluster | None) -> bool:
    """Watching needs what the level is about to be readable."""
    if target is None or not user.is_member:
        return False
    if target_type == "thread":
        return can_view_thread(user, target)
    if target_type == "board":
        return can_view_board(user, target)
    return target_type == "cluster" and can_read_cluster(user, target.id)


# -- search -------------------------------------------------------------------------------

def readable_board_scope(user: Viewer) -> tuple[frozenset[int] | None, bool]:
    """``visible_board_ids`` in the shape a search index filters on: (clusters whose boards
    the viewer reads — ``None`` for every cluster —, whether the platform-wide boards are
    readable). ``tests/test_search_permissions.py`` asserts both select the same boards."""
    platform_wide = bool(user.is_member)
    if user.is_admin and _admins_read_all():
        return None, platform_wide
    return frozenset(user.cluster_ids), platform_wide

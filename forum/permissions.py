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
    return can_view_thread(user, post.thread)


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


# -- helpers for views --------------------------------------------------------------------

def ensure_visible(visible: bool) -> None:
    """Not visible means not found: outsiders never learn that private content exists."""
    if not visible:
        abort(404)


def ensure_can(allowed: bool) -> None:
    """Only for objects the viewer may already see: then a refusal is an honest 403."""
    if not allowed:
        abort(403)

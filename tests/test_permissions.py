"""The permission module: every predicate agrees with its query twin, for every role."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from forum import permissions
from forum.extensions import db
from forum.models import Board, Cluster, Thread
from forum.permissions import Anonymous

ROLES = ["anonymous", "member", "manager", "outsider", "manager_b", "admin", "loner"]


def viewer(world, role):
    return Anonymous() if role == "anonymous" else getattr(world, role)


@pytest.fixture(params=[False, True], ids=["admins-read-own", "admins-read-all"])
def admins_read_all(request, app):
    app.config["ADMINS_READ_ALL"] = request.param
    return request.param


@pytest.mark.parametrize("role", ROLES)
def test_predicates_agree_with_their_query_twins(world, role, admins_read_all):
    user = viewer(world, role)
    boards = db.session.scalars(select(Board)).all()
    twin = set(db.session.scalars(permissions.visible_board_ids(user)))
    assert {b.id for b in boards if permissions.can_view_board(user, b)} == twin
    threads = db.session.scalars(select(Thread)).all()
    thread_twin = set(db.session.scalars(permissions.visible_thread_ids(user)))
    assert {t.id for t in threads if permissions.can_view_thread(user, t)} == thread_twin
    clusters = db.session.scalars(select(Cluster)).all()
    assert {c.id for c in clusters if permissions.can_see_cluster(user, c)} == \
        set(db.session.scalars(permissions.visible_cluster_ids(user)))
    assert {c.id for c in clusters if permissions.can_read_cluster(user, c.id)} == \
        set(db.session.scalars(permissions.readable_cluster_ids(user)))
    assert {c.id for c in clusters if permissions.can_manage_members(user, c.id)} == \
        set(db.session.scalars(permissions.member_managed_cluster_ids(user)))


EXPECTED_THREADS = {
    # role: (thread_a, thread_b, platform_thread)
    "anonymous": (False, False, False),
    "member": (True, False, True),
    "manager": (True, False, True),
    "outsider": (False, True, True),
    "manager_b": (False, True, True),
    "admin": (False, False, True),
    "loner": (False, False, True),
}


@pytest.mark.parametrize("role", ROLES)
def test_who_sees_which_thread(world, role):
    user = viewer(world, role)
    seen = tuple(permissions.can_view_thread(user, t) for t in (world.thread_a, world.thread_b, world.platform_thread))
    assert seen == EXPECTED_THREADS[role]


def test_admin_reads_everything_only_when_the_instance_allows_it(world, app):
    assert not permissions.can_view_thread(world.admin, world.thread_a)
    assert permissions.can_see_cluster(world.admin, world.cluster_a)
    app.config["ADMINS_READ_ALL"] = True
    assert permissions.can_view_thread(world.admin, world.thread_a)


def test_manager_moderates_only_their_own_cluster(world):
    assert permissions.can_moderate_thread(world.manager, world.thread_a)
    assert not permissions.can_moderate_thread(world.manager, world.thread_b)
    assert not permissions.can_moderate_thread(world.manager_b, world.thread_a)
    assert not permissions.can_moderate_thread(world.member, world.thread_a)
    assert permissions.can_moderate_thread(world.admin, world.platform_thread)


def test_locked_thread_takes_only_moderator_replies(world, db):
    world.thread_a.is_locked = True
    db.session.commit()
    assert not permissions.can_reply(world.member, world.thread_a)
    assert permissions.can_reply(world.manager, world.thread_a)


def test_suspended_membership_reads_but_does_not_write(world, db):
    membership = next(m for m in world.member.memberships if m.cluster_id == world.cluster_a.id)
    membership.state = "suspended"
    db.session.commit()
    assert permissions.can_view_thread(world.member, world.thread_a)
    assert not permissions.can_reply(world.member, world.thread_a)
    assert not permissions.can_start_thread(world.member, world.board_a)


def test_archived_board_takes_no_new_threads(world, db):
    world.board_a.is_archived = True
    db.session.commit()
    assert permissions.can_view_board(world.member, world.board_a)
    assert not permissions.can_start_thread(world.member, world.board_a)


def test_profiles_are_visible_to_people_sharing_a_cluster(world):
    assert permissions.can_view_profile(world.member, world.manager)
    assert not permissions.can_view_profile(world.outsider, world.member)
    assert permissions.can_view_profile(world.admin, world.member)
    assert not permissions.can_view_profile(Anonymous(), world.member)

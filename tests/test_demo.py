"""``flask forum seed-demo``: German demo clusters and the demo accounts of CONTRACT.md."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from forum import permissions
from forum.models import Board, Cluster, Membership, MembershipRole, Post, Thread, User
from forum.services import accounts

PASSWORD = "demo-passwort"


@pytest.fixture
def demo(runner, db):
    result = runner.invoke(args=["forum", "seed-demo"])
    assert result.exit_code == 0, result.output
    return result


def _user(db, username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def _roles(db, username: str) -> dict[str, MembershipRole]:
    rows = db.session.execute(select(Cluster.name, Membership.role).join(Membership.cluster)
                              .join(Membership.user).where(User.username == username))
    return dict(rows.all())


def _counts(db) -> tuple[int, ...]:
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (User, Cluster, Membership, Board, Thread, Post))


def test_seed_demo_creates_the_accounts_with_their_roles(demo, db):
    assert _user(db, "demo-admin").is_admin
    assert _roles(db, "demo-admin") == {}
    assert _roles(db, "demo-manager") == {"Cluster Münsterland": MembershipRole.MANAGER}
    assert _roles(db, "demo-member") == {"Cluster Münsterland": MembershipRole.MEMBER}
    assert _roles(db, "demo-outsider") == {"Cluster Ruhrgebiet": MembershipRole.MEMBER}
    for username in ("demo-admin", "demo-manager", "demo-member", "demo-outsider"):
        assert accounts.authenticate(username, PASSWORD) is not None, username


def test_seed_demo_prints_the_log_ins_and_warns(demo):
    for username in ("demo-admin", "demo-manager", "demo-member", "demo-outsider"):
        assert username in demo.output
    assert PASSWORD in demo.output
    assert "nur zum Ausprobieren" in demo.output


def test_further_members_have_betrieb_gewerk_and_region(demo, db):
    members = db.session.scalars(select(User).where(User.username.like("demo-%"), User.is_admin.is_(False))).all()
    assert len(members) >= 11
    assert all(u.company and u.trade and u.region for u in members)
    assert len({u.trade for u in members}) >= 7   # many different trades talk to each other


def test_each_cluster_has_boards_and_at_least_eight_threads(demo, db):
    for name in ("Cluster Münsterland", "Cluster Ruhrgebiet"):
        cluster = db.session.scalar(select(Cluster).where(Cluster.name == name))
        assert cluster.region and cluster.description
        assert {b.name for b in cluster.boards} >= {"Nachwuchs & Ausbildung", "Nachfolge & Übergabe",
                                                     "Klima & Energie", "Digitalisierung", "Kunden & Markt"}
        threads = db.session.scalar(select(func.count(Thread.id)).join(Board).where(Board.cluster_id == cluster.id))
        assert threads >= 8
    platform = db.session.scalar(select(func.count(Thread.id)).join(Board).where(Board.cluster_id.is_(None)))
    assert platform == 2


def test_threads_have_nested_replies_themenfelder_and_spread_times(demo, db):
    threads = db.session.scalars(select(Thread)).all()
    assert all(t.tags and all(tag.is_themenfeld for tag in t.tags) for t in threads)
    depths = db.session.scalars(select(Post.depth)).all()
    assert max(depths) == 4
    assert all(t.reply_count >= 2 for t in threads)
    days = {t.created_at.date() for t in threads}
    assert (max(days) - min(days)).days > 60
    for thread in threads:
        posts = db.session.scalars(select(Post).where(Post.thread_id == thread.id).order_by(Post.id)).all()
        times = [p.created_at for p in posts]
        assert times == sorted(times)
        assert thread.created_at == times[0] and thread.last_activity_at == times[-1]
        assert thread.reply_count == len(posts) - 1
        assert thread.last_poster_id == posts[-1].author_id


def test_demo_texts_are_german(demo, db):
    bodies = db.session.scalars(select(Post.body_markdown)).all()
    german = re.compile(r"\b(und|der|die|das|den|nicht|wir|ich|ihr|ist|bei|mit|für|auf|ein|eine|zu|es|er|man|dann)\b",
                        re.IGNORECASE)
    assert all(german.search(body) for body in bodies)
    assert sum(bool(re.search("[äöüÄÖÜß]", body)) for body in bodies) > len(bodies) * 0.6


def test_demo_outsider_cannot_see_the_first_cluster(demo, db, api_token, client):
    outsider = _user(db, "demo-outsider")
    first = db.session.scalar(select(Cluster).where(Cluster.name == "Cluster Münsterland"))
    threads = db.session.scalars(select(Thread).join(Board).where(Board.cluster_id == first.id)).all()
    assert threads and not any(permissions.can_view_thread(outsider, t) for t in threads)
    headers = api_token(outsider, PASSWORD)
    assert client.get(f"/api/v1/threads/{threads[0].id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/clusters/{first.slug}", headers=headers).status_code == 404
    member = _user(db, "demo-member")
    assert all(permissions.can_view_thread(member, t) for t in threads)


def test_demo_admin_reads_no_cluster_threads_but_the_platform_board(demo, db):
    admin = _user(db, "demo-admin")
    threads = db.session.scalars(select(Thread)).all()
    visible = [t for t in threads if permissions.can_view_thread(admin, t)]
    assert visible and all(t.board.cluster_id is None for t in visible)


def test_running_seed_demo_twice_changes_nothing(demo, runner, db):
    before = _counts(db)
    again = runner.invoke(args=["forum", "seed-demo"])
    assert again.exit_code == 0
    assert "schon angelegt" in again.output
    assert "demo-member" in again.output
    db.session.expire_all()
    assert _counts(db) == before


def test_if_empty_leaves_a_database_with_content_alone(world, runner, db):
    before = _counts(db)
    result = runner.invoke(args=["forum", "seed-demo", "--if-empty"])
    assert result.exit_code == 0
    assert "leere Datenbank" in result.output
    assert _counts(db) == before
    assert _user(db, "demo-admin") is None


def test_if_empty_seeds_an_empty_database(runner, db):
    result = runner.invoke(args=["forum", "seed-demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "Demo-Daten angelegt" in result.output
    assert _user(db, "demo-outsider") is not None


def test_a_clashing_cluster_name_fails_clearly_without_demo_data(world, runner, db):
    result = runner.invoke(args=["forum", "seed-demo"])
    assert result.exit_code == 1
    assert "Cluster Münsterland" in result.output and "gibt es schon" in result.output
    assert _user(db, "demo-admin") is None

"""Search never shows, counts, quotes or suggests anything from where the viewer cannot read."""
from __future__ import annotations

import pytest
from sqlalchemy import delete

from forum import search
from forum.models import Membership, utcnow
from forum.search import service
from forum.services import posting
from tests import factories

SECRET = "Kupferkessel"


@pytest.fixture
def secrets(world):
    """A word that exists only in cluster B, and a Wärmepumpe thread on each side."""
    factories.thread(world.board_b, world.outsider, "Geheimrezept", f"Unser {SECRET} bleibt im Ruhrgebiet.")
    factories.thread(world.board_a, world.member, "Wärmepumpe im Münsterland", "Auch hier eine Wärmepumpe.")
    return world


def run(user, q, **params):
    service.drain()   # the worker's pass: these tests write through the services, not a request
    return service.search(user, service.Params(q=q, **params))


# Who may read cluster B's board: its members; not A's members, not the admin (unless the
# instance lets admins read everything), not someone without a cluster.
MATRIX = [("member", False), ("manager", False), ("outsider", True), ("manager_b", True),
          ("admin", False), ("loner", False)]


@pytest.mark.parametrize("role, sees_b", MATRIX)
def test_hits_counts_snippets_and_suggestions_follow_membership(secrets, role, sees_b):
    user = getattr(secrets, role)
    page = run(user, SECRET)
    assert (page.total == 1) is sees_b and len(page.items) == page.total
    assert all(SECRET not in str(item.snippet_html) for item in page.items) or sees_b
    typo = run(user, "Kupferkesel")
    assert (typo.suggestion == SECRET) is sees_b
    assert (SECRET in service.suggest(user, "Kupf")) is sees_b


def test_counts_include_only_visible_threads(secrets):
    assert run(secrets.member, "Wärmepumpe").total == 1
    assert run(secrets.outsider, "Wärmepumpe").total == 1
    assert {i.cluster_slug for i in run(secrets.member, "Wärmepumpe").items} == {secrets.cluster_a.slug}


def test_filter_on_a_foreign_cluster_or_board_finds_nothing(secrets):
    assert run(secrets.member, "Wärmepumpe", cluster=secrets.cluster_b.slug).total == 0
    assert run(secrets.member, "Wärmepumpe", board=secrets.board_b.id).total == 0
    assert run(secrets.outsider, "Wärmepumpe", cluster=secrets.cluster_b.slug).total == 1


def test_platform_wide_board_is_searchable_for_every_member(secrets):
    for user in (secrets.member, secrets.outsider, secrets.loner, secrets.admin):
        assert run(user, "Clustergrenzen").total == 1


def test_admin_reads_clusters_only_when_the_instance_allows(secrets, app):
    assert run(secrets.admin, SECRET).total == 0
    app.config["ADMINS_READ_ALL"] = True
    assert run(secrets.admin, SECRET).total == 1


def test_content_disappears_after_leaving_the_cluster(secrets, db):
    assert run(secrets.outsider, SECRET).total == 1
    db.session.execute(delete(Membership).where(Membership.user_id == secrets.outsider.id))
    db.session.commit()
    db.session.expire(secrets.outsider)
    assert run(secrets.outsider, SECRET).total == 0
    assert run(secrets.outsider, "Kupferkesel").suggestion is None
    assert service.suggest(secrets.outsider, "Kupf") == []


def test_deleted_posts_never_appear(secrets, db):
    thread = factories.thread(secrets.board_a, secrets.member, "Löschkandidat", "Einmaliges Zauberwort Quastenflosser")
    assert run(secrets.member, "Quastenflosser").total == 1
    posting.delete_post(secrets.member, factories.first_post(thread))
    assert run(secrets.member, "Quastenflosser").total == 0
    assert run(secrets.member, "Quastenflosse").suggestion is None


def test_hidden_posts_never_appear(secrets, db):
    thread = factories.thread(secrets.board_a, secrets.member, "Ausgeblendet", "Ein Wort: Ohrenkneifer")
    post = factories.first_post(thread)
    post.hidden_at = utcnow()          # what moderation does: flag and queue in one transaction
    search.enqueue("post", post.id)
    db.session.commit()
    assert run(secrets.member, "Ohrenkneifer").total == 0
    assert run(secrets.manager, "Ohrenkneifer").total == 0


def test_moved_thread_follows_its_new_board(secrets, db):
    thread = factories.thread(secrets.board_a, secrets.member, "Umzug", "Der Wanderpokal zieht um")
    assert run(secrets.outsider, "Wanderpokal").total == 0
    thread.board_id = secrets.board_b.id
    search.enqueue("thread", thread.id)
    db.session.commit()
    assert run(secrets.outsider, "Wanderpokal").total == 1
    assert run(secrets.member, "Wanderpokal").total == 0


def test_anonymous_finds_nothing(secrets, app):
    from forum.permissions import Anonymous

    assert run(Anonymous(), "Wärmepumpe").total == 0
    assert service.suggest(Anonymous(), "Wärm") == []


# -- the index's restriction is the permission twin ---------------------------------------

SCOPE_ROLES = ["member", "manager", "outsider", "manager_b", "admin", "loner"]


def _scope_boards(user) -> set[int]:
    """The boards the search scope of ``user`` selects, evaluated over every board."""
    from sqlalchemy import select

    from forum.extensions import db
    from forum.models import Board
    from forum.permissions import readable_board_scope

    cluster_ids, platform = readable_board_scope(user)
    boards = db.session.execute(select(Board.id, Board.cluster_id)).all()
    return {board_id for board_id, cluster_id in boards
            if (cluster_id is None and platform)
            or (cluster_id is not None and (cluster_ids is None or cluster_id in cluster_ids))}


@pytest.mark.parametrize("admins_read_all", [False, True])
@pytest.mark.parametrize("role", SCOPE_ROLES + ["anonymous"])
def test_search_scope_selects_exactly_the_visible_boards(secrets, app, db, role, admins_read_all):
    from forum.permissions import Anonymous, visible_board_ids

    app.config["ADMINS_READ_ALL"] = admins_read_all
    user = Anonymous() if role == "anonymous" else getattr(secrets, role)
    assert _scope_boards(user) == set(db.session.scalars(visible_board_ids(user)))


@pytest.mark.parametrize("role, sees_b", MATRIX)
def test_the_index_itself_restricts_without_the_database_check(secrets, role, sees_b):
    """The backend alone (no fresh database check of the page's hits) keeps cluster B's
    post out: the restriction is inside the index query, so totals are safe too."""
    from forum.search.backend import Query

    user = getattr(secrets, role)
    service.drain()
    result = service.backend().search(Query(text=SECRET, board_ids=frozenset(), scope=service.scope(user)))
    assert (result.total == 1) is sees_b and len(result.hits) == result.total


def test_pages_group_posts_by_thread_and_count_threads(secrets, db):
    """Many matching replies in one thread are one hit; pages do not repeat threads."""
    threads = [factories.thread(secrets.board_a, secrets.member, f"Flachdach {n}", "Flachdach abdichten")
               for n in range(5)]
    for _ in range(3):
        posting.reply(secrets.member, threads[0], "Noch einmal Flachdach mit Bitumen.")
    db.session.commit()
    service.drain()
    first = run(secrets.member, "Flachdach", per_page=2)
    assert first.total == 5 and len(first.items) == 2
    seen = [item.thread_id for page in (1, 2, 3)
            for item in run(secrets.member, "Flachdach", per_page=2, page=page).items]
    assert sorted(seen) == sorted(t.id for t in threads)
    newest = run(secrets.member, "Flachdach", sort="newest")
    assert newest.items[0].thread_id == threads[0].id    # its latest reply is the newest match


def test_posts_awaiting_approval_stay_out_of_the_index_even_after_a_rebuild(secrets, db):
    post = factories.reply(secrets.thread_a, secrets.member, "Noch nicht freigegeben: Kugelfischrezept")
    post.awaiting_approval = True      # what the approval queue does for a new member's post
    search.enqueue("post", post.id)
    db.session.commit()
    assert run(secrets.manager, "Kugelfischrezept").total == 0
    service.rebuild()
    assert run(secrets.manager, "Kugelfischrezept").total == 0
    post.awaiting_approval = False     # approved
    search.enqueue("post", post.id)
    db.session.commit()
    assert run(secrets.manager, "Kugelfischrezept").total == 1

"""Query discipline: every page and API GET route makes the same number of SQL statements
whether what it lists is small or large, and stays below a fixed bound.

Each scenario grows one kind of list (the posts of a thread, the threads of a board, a
member's clusters, notifications, reports …) to a small and then a large size and asks every
route that shows that list once to warm up (read marks, "last seen" and caches get written)
and once, with a fresh session, to count. A route that loads one row per listed row (N+1)
makes more statements at the large size and fails here. Every GET route in ``app.url_map``
must appear in some scenario, so a new page cannot ship without a query budget.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable

import pytest

from forum.extensions import db
from tests import bulk_factories as bulk, factories

BOUND = 20  # statements per request, unless a route documents more

# -- the routes --------------------------------------------------------------------------------


@dataclasses.dataclass
class Ctx:
    """Plain ids of the world (the measuring drops the session, so no ORM objects here) and
    whatever a scenario adds."""
    cluster_a: int
    slug_a: str
    board_a: int
    thread_a: int
    platform_board: int
    platform_thread: int
    users: dict[str, int]
    names: dict[str, str]
    extra: dict = dataclasses.field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.__dict__["extra"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclasses.dataclass(frozen=True)
class Route:
    endpoint: str
    url: Callable[[Ctx], str]
    role: str                      # anonymous, member, manager, admin
    status: int = 200
    api: bool = False              # bearer token instead of the session
    slack: int = 0                 # statements the large size may add, documented where used
    bound: int = BOUND
    lead: bool = False             # served by files the lead is optimising (threads, boards, start page)


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    sizes: tuple[int, int]
    grow: Callable[[Ctx, int], None]
    routes: tuple[Route, ...]
    setup: Callable[[Ctx], None] | None = None


def _authors(ctx: Ctx, n: int) -> list[int]:
    """New members of cluster A, so every list also has new people in it."""
    return bulk.users(max(2, n // 4), cluster_id=ctx.cluster_a)


# -- scenario: the posts of one thread (and the people in its cluster) -------------------------

def _thread_setup(ctx: Ctx) -> None:
    from forum.models import Post, Thread, User
    member = db.session.get(User, ctx.users["member"])
    thread = db.session.get(Thread, ctx.thread_a)
    ctx.extra["post"] = factories.reply(thread, member, "Meine eigene Antwort").id
    manager = db.session.get(User, ctx.users["manager"])
    factories.reply(thread, manager, "Antwort der Managerin", parent=db.session.get(Post, ctx.extra["post"]))


def _thread_grow(ctx: Ctx, n: int) -> None:
    authors = _authors(ctx, n)
    posts = bulk.replies(ctx.thread_a, authors, n)
    bulk.reactions(posts, authors[:3])
    bulk.pending_posts(ctx.thread_a, authors, 2)                     # the manager sees these, the member not
    bulk.solution(ctx.thread_a, posts[0])
    bulk.revisions(ctx.post, authors + [ctx.users["member"]], n)     # the member's own post: edited often
    bulk.reactions([ctx.post], authors)                              # … and liked by everyone


THREAD = Scenario("thread", (5, 200), _thread_grow, setup=_thread_setup, routes=(
    Route("threads.show", lambda c: f"/t/{c.thread_a}", "member", lead=True),
    Route("threads.show", lambda c: f"/t/{c.thread_a}?view=flat", "member", lead=True),
    Route("threads.show", lambda c: f"/t/{c.thread_a}", "manager", lead=True),
    Route("threads.reply", lambda c: f"/t/{c.thread_a}/antworten?parent={c.post}&zitat=1", "member", lead=True),
    Route("threads.permalink", lambda c: f"/p/{c.post}", "member", 302, lead=True),
    Route("threads.permalink", lambda c: f"/p/{c.post}?view=flat", "member", 302, lead=True),
    Route("threads.edit", lambda c: f"/p/{c.post}/bearbeiten", "member", lead=True),
    Route("threads.delete", lambda c: f"/p/{c.post}/loeschen", "member", lead=True),
    Route("threads.revisions", lambda c: f"/p/{c.post}/versionen", "member", lead=True),
    Route("clusters.members", lambda c: f"/c/{c.slug_a}/mitglieder", "member", lead=True),
    Route("api.thread", lambda c: f"/api/v1/threads/{c.thread_a}", "member", api=True),
    Route("api.thread", lambda c: f"/api/v1/threads/{c.thread_a}?view=flat", "member", api=True),
    Route("api.post_revisions", lambda c: f"/api/v1/posts/{c.post}/revisions", "member", api=True),
    Route("api.post_reactions", lambda c: f"/api/v1/posts/{c.post}/reactions", "member", api=True),
    Route("notifications.first_unread", lambda c: f"/t/{c.thread_a}/ungelesen", "member", 302),
    Route("notifications.thread_mentions", lambda c: f"/t/{c.thread_a}/erwaehnungen?q=mas", "member"),
    Route("moderation.thread_tools", lambda c: f"/t/{c.thread_a}/moderation", "manager"),
    Route("moderation.post_tools", lambda c: f"/p/{c.post}/moderation", "manager"),
    Route("moderation.report_post", lambda c: f"/p/{c.post}/melden", "manager"),
    Route("manage.slow_mode", lambda c: f"/t/{c.thread_a}/langsamer-modus", "manager"),
))


# -- scenario: the threads of one board (and a member's posts in them) ------------------------------

def _board_grow(ctx: Ctx, n: int) -> None:
    authors = _authors(ctx, n)
    first = not ctx.extra.get("board_grown")
    ctx.extra["board_grown"] = True
    threads = bulk.threads(ctx.board_a, authors, n, pinned=2 if first else 0)
    bulk.watches(ctx.users["member"], "thread", threads[::2])        # the start page may list watched threads
    for thread_id in threads[::2]:  # the manager answers in every other thread (her profile lists them)
        bulk.replies(thread_id, [ctx.users["manager"], *authors[::-1]], 2)


BOARD = Scenario("board", (3, 60), _board_grow, routes=(
    Route("clusters.board", lambda c: f"/b/{c.board_a}", "member", lead=True),
    # the third Themenfeld: never on the two pinned threads, so both sizes show the same lists
    Route("clusters.board", lambda c: f"/b/{c.board_a}?thema=kundenbeduerfnisse", "member", lead=True),
    Route("clusters.show", lambda c: f"/c/{c.slug_a}", "member", lead=True),
    Route("clusters.new_thread", lambda c: f"/b/{c.board_a}/neu", "member", lead=True),
    Route("main.index", lambda c: "/", "member", lead=True),
    Route("api.board_threads", lambda c: f"/api/v1/boards/{c.board_a}/threads", "member", api=True),
    Route("notifications.board_mentions", lambda c: f"/b/{c.board_a}/erwaehnungen?q=mas", "member"),
    Route("accounts.profile", lambda c: f"/u/{c.names['manager']}", "member"),
    Route("admin.user_detail", lambda c: f"/admin/konten/{c.names['manager']}", "admin"),
))


# -- scenario: clusters, boards and everything the layout shows -----------------------------------

def _clusters_setup(ctx: Ctx) -> None:
    from forum.models import User
    from forum.services import accounts, email_change, mail_content
    ctx.extra["unsubscribe_token"] = mail_content.unsubscribe_token(ctx.users["member"], "reply")
    ctx.extra["reset_token"] = accounts.make_reset_token(db.session.get(User, ctx.users["member"]))
    ctx.extra["email_token"] = email_change.make_token(db.session.get(User, ctx.users["member"]), "neu@example.org")


def _clusters_grow(ctx: Ctx, n: int) -> None:
    """More clusters (member, manager and admin belong to all), more boards in cluster A and
    platform-wide (a thread each), and more notifications and open reports for the layout."""
    from sqlalchemy import select

    from forum.models import Board
    made = bulk.clusters(n, boards_each=1)
    for role in ("member", "admin"):
        bulk.memberships(ctx.users[role], made)
    bulk.memberships(ctx.users["manager"], made, "manager")
    authors = _authors(ctx, n)
    new_boards = list(db.session.scalars(select(Board.id).where(Board.cluster_id.in_(made))))
    new_boards += bulk.boards(ctx.cluster_a, n) + bulk.boards(None, n)
    threads = [t for board_id in new_boards for t in bulk.threads(board_id, authors, 1)]
    for role in ("member", "manager", "admin"):
        bulk.notifications(ctx.users[role], n, thread_ids=threads, actor_ids=authors, cluster_id=ctx.cluster_a)
    bulk.reports(ctx.cluster_a, bulk.first_posts(threads[:n]), authors)


CLUSTERS = Scenario("clusters and boards", (2, 30), _clusters_grow, setup=_clusters_setup, routes=(
    Route("main.index", lambda c: "/", "member", lead=True),
    Route("main.index", lambda c: "/", "anonymous", lead=True),
    Route("clusters.show", lambda c: f"/c/{c.slug_a}", "member", lead=True),
    # what the many clusters and boards appear in
    Route("api.clusters", lambda c: "/api/v1/clusters", "member", api=True),
    Route("api.cluster", lambda c: f"/api/v1/clusters/{c.slug_a}", "member", api=True),
    Route("api.me", lambda c: "/api/v1/me", "member", api=True),
    Route("manage.home", lambda c: "/verwaltung", "manager"),
    Route("manage.boards", lambda c: f"/c/{c.slug_a}/verwaltung/bretter", "manager"),
    Route("admin.cluster_list", lambda c: "/admin/cluster", "admin"),
    Route("admin.boards", lambda c: "/admin/bretter", "admin"),
    Route("admin.user_detail", lambda c: f"/admin/konten/{c.names['member']}", "admin"),
    Route("admin.interests", lambda c: "/admin/interessenten", "admin"),
    Route("join.mitmachen", lambda c: "/mitmachen", "anonymous"),
    Route("accounts.profile", lambda c: f"/u/{c.names['manager']}", "member"),
    Route("search.results", lambda c: "/search?q=Ausbildung", "member"),
    Route("search.results", lambda c: "/search", "manager"),
    # pages that list nothing of their own: only the layout (clusters, bell, report badge) grows
    Route("main.healthz", lambda c: "/healthz", "anonymous"),
    Route("main.readyz", lambda c: "/readyz", "anonymous"),
    Route("auth.login", lambda c: "/login", "anonymous"),
    Route("auth.second_factor", lambda c: "/login/bestaetigen", "anonymous", 302),
    Route("auth.reset_request", lambda c: "/passwort-vergessen", "anonymous"),
    Route("auth.reset", lambda c: f"/passwort-neu/{c.reset_token}", "anonymous"),
    Route("notifications.unsubscribe", lambda c: f"/abmelden/{c.unsubscribe_token}", "anonymous"),
    Route("api.openapi_document", lambda c: "/api/v1/openapi.json", "anonymous", api=True),
    Route("accounts.edit_profile", lambda c: "/konto", "manager"),
    Route("accounts.change_password", lambda c: "/konto/passwort", "manager"),
    Route("accounts.change_email", lambda c: "/konto/email", "manager"),
    Route("accounts.confirm_email", lambda c: f"/konto/email/bestaetigen/{c.email_token}", "anonymous"),
    Route("notifications.settings", lambda c: "/konto/benachrichtigungen", "manager"),
    Route("twofactor.settings", lambda c: "/konto/zwei-faktor", "manager"),
    Route("api_tokens.index", lambda c: "/konto/zugangstokens", "manager"),
    Route("api.list_tokens", lambda c: "/api/v1/tokens", "manager", api=True),
    Route("twofactor.setup", lambda c: "/konto/zwei-faktor/einrichten", "manager"),
    Route("twofactor.qr_code", lambda c: "/konto/zwei-faktor/qr.svg", "manager"),
    Route("twofactor.disable", lambda c: "/konto/zwei-faktor/ausschalten", "manager", 302),
    Route("manage.board_edit", lambda c: f"/c/{c.slug_a}/verwaltung/bretter/{c.board_a}", "manager"),
    Route("search.completions", lambda c: "/search/vorschlaege?q=Ausb", "manager"),
    Route("api.me", lambda c: "/api/v1/me", "manager", api=True),
    Route("admin.cluster_edit", lambda c: f"/admin/cluster/{c.slug_a}/bearbeiten", "admin"),
    Route("admin.board_edit", lambda c: f"/admin/bretter/{c.platform_board}", "admin"),
))


# -- scenario: the members of a cluster --------------------------------------------------------------

def _members_grow(ctx: Ctx, n: int) -> None:
    from sqlalchemy import update

    from forum.models import Membership, MembershipState
    made = bulk.users(n, cluster_id=ctx.cluster_a)
    bulk.users(max(1, n // 10), cluster_id=ctx.cluster_a, role="manager")
    db.session.execute(update(Membership).where(Membership.user_id.in_(made[::4]))
                       .values(state=MembershipState.SUSPENDED, suspension_reason="Ton"))
    db.session.commit()


MEMBERS = Scenario("members of a cluster", (3, 60), _members_grow, routes=(
    Route("manage.members", lambda c: f"/c/{c.slug_a}/verwaltung/mitglieder", "manager"),
    Route("api.list_members", lambda c: f"/api/v1/clusters/{c.slug_a}/members", "manager", api=True),
    Route("admin.cluster_detail", lambda c: f"/admin/cluster/{c.slug_a}", "admin"),
    Route("admin.users", lambda c: "/admin/konten", "admin"),
    Route("admin.users", lambda c: "/admin/konten?q=massen", "admin"),
))


# -- scenario: a member's notifications ---------------------------------------------------------------

def _notifications_setup(ctx: Ctx) -> None:
    from sqlalchemy import select

    from forum.models import Notification
    bulk.notifications(ctx.users["member"], 1, thread_ids=[ctx.thread_a], actor_ids=[ctx.users["manager"]],
                       cluster_id=ctx.cluster_a)
    ctx.extra["notification"] = db.session.scalar(select(Notification.id))


def _notifications_grow(ctx: Ctx, n: int) -> None:
    authors = _authors(ctx, n)
    threads = bulk.threads(ctx.board_a, authors, n // 3 + 1) + [ctx.platform_thread]
    bulk.notifications(ctx.users["member"], n, thread_ids=threads, actor_ids=authors, cluster_id=ctx.cluster_a)


NOTIFICATIONS = Scenario("notifications", (3, 60), _notifications_grow, setup=_notifications_setup, routes=(
    Route("notifications.index", lambda c: "/benachrichtigungen", "member"),
    Route("notifications.index", lambda c: "/benachrichtigungen?ungelesen=1", "member"),
    Route("notifications.open_notification", lambda c: f"/benachrichtigungen/{c.notification}", "member", 302),
    Route("api.list_notifications", lambda c: "/api/v1/notifications", "member", api=True),
    Route("api.list_notifications", lambda c: "/api/v1/notifications?unread=1", "member", api=True),
))


# -- scenario: reports ----------------------------------------------------------------------------

def _reports_setup(ctx: Ctx) -> None:
    from forum.models import Post, Thread, User
    from forum.services import reports
    post = factories.reply(db.session.get(Thread, ctx.thread_a), db.session.get(User, ctx.users["member"]), "Gemeldet")
    ctx.extra["report"] = reports.create_report(db.session.get(User, ctx.users["manager"]),
                                                db.session.get(Post, post.id), "spam").id


def _reports_grow(ctx: Ctx, n: int) -> None:
    authors = _authors(ctx, n)
    threads = bulk.threads(ctx.board_a, authors, n // 3 + 1)
    posts = [p for t in threads for p in bulk.replies(t, authors, 3)][:n]
    bulk.reports(ctx.cluster_a, posts, authors[::-1], resolved_by=ctx.users["manager"])
    platform = bulk.threads(ctx.platform_board, authors, n // 3 + 1)
    bulk.reports(None, bulk.first_posts(platform), authors)


REPORTS = Scenario("reports", (3, 60), _reports_grow, setup=_reports_setup, routes=(
    Route("moderation.queue", lambda c: "/moderation/meldungen", "manager"),
    Route("moderation.queue", lambda c: "/moderation/meldungen", "admin"),
    Route("moderation.cluster_reports", lambda c: f"/c/{c.slug_a}/meldungen", "manager"),
    Route("moderation.cluster_reports", lambda c: f"/c/{c.slug_a}/meldungen?status=resolved", "manager"),
    Route("moderation.report", lambda c: f"/meldungen/{c.report}", "manager"),
    Route("api.cluster_reports", lambda c: f"/api/v1/clusters/{c.slug_a}/reports?state=open", "manager", api=True),
))


# -- scenario: the moderation log -------------------------------------------------------------------

def _modlog_grow(ctx: Ctx, n: int) -> None:
    authors = _authors(ctx, n)
    threads = bulk.threads(ctx.board_a, authors, n // 4 + 1)
    posts = bulk.first_posts(threads)
    boards = bulk.boards(ctx.cluster_a, 2)
    for cluster_id in (ctx.cluster_a, None):
        bulk.modlog(cluster_id, [ctx.users["manager"], ctx.users["admin"]] + authors[:2], n,
                    thread_ids=threads, post_ids=posts, user_ids=authors, board_ids=boards)


MODLOG = Scenario("moderation log", (3, 60), _modlog_grow, routes=(
    Route("moderation.log", lambda c: f"/c/{c.slug_a}/protokoll", "manager"),
    Route("moderation.platform_log", lambda c: "/moderation/protokoll", "admin"),
    Route("api.cluster_modlog", lambda c: f"/api/v1/clusters/{c.slug_a}/modlog", "manager", api=True),
))


# -- scenario: the cluster management queues (invitations, requests, interest, approvals) -------------------

def _queues_setup(ctx: Ctx) -> None:
    from forum.models import Cluster, User
    from forum.services import membership
    from tests import membership_factories
    invitation = membership_factories.invitation(db.session.get(Cluster, ctx.cluster_a),
                                                 db.session.get(User, ctx.users["manager"]))
    ctx.extra["invite_token"] = membership.token_for(invitation)


def _queues_grow(ctx: Ctx, n: int) -> None:
    from forum.models import Cluster, User
    from forum.services import membership
    start = len(ctx.extra.setdefault("invited", []))
    emails = [f"eingeladen{start + i}@example.org" for i in range(n)]
    ctx.extra["invited"] += emails
    inviters = [ctx.users["manager"]] + bulk.users(1, cluster_id=ctx.cluster_a, role="manager")
    for inviter, chunk in ((inviters[0], emails[::2]), (inviters[1], emails[1::2])):
        membership.invite(db.session.get(User, inviter), db.session.get(Cluster, ctx.cluster_a), chunk, "member")
    bulk.join_requests(ctx.cluster_a, bulk.users(n))
    bulk.interests(ctx.cluster_a, n)
    bulk.interests(None, n)
    authors = _authors(ctx, n)
    for i, thread_id in enumerate(bulk.threads(ctx.board_a, authors, n // 3 + 1)):
        bulk.pending_posts(thread_id, authors[i:] + authors[:i], min(3, n - 3 * i))


QUEUES = Scenario("management queues", (3, 60), _queues_grow, setup=_queues_setup, routes=(
    Route("manage.overview", lambda c: f"/c/{c.slug_a}/verwaltung", "manager"),
    Route("manage.invitations", lambda c: f"/c/{c.slug_a}/verwaltung/einladungen", "manager"),
    Route("api.list_invites", lambda c: f"/api/v1/clusters/{c.slug_a}/invites", "manager", api=True),
    Route("join.invitation", lambda c: f"/einladung/{c.invite_token}", "anonymous"),
    Route("manage.requests", lambda c: f"/c/{c.slug_a}/verwaltung/anfragen", "manager"),
    Route("admin.interests", lambda c: "/admin/interessenten", "admin"),
    Route("manage.protection_settings", lambda c: f"/c/{c.slug_a}/verwaltung/schutz", "manager"),
))


# -- scenario: best practice and a proposal to publish it ------------------------------------------------

def _best_practice_setup(ctx: Ctx) -> None:
    from forum.models import Board, Thread, User
    from forum.services import best_practice
    manager = db.session.get(User, ctx.users["manager"])
    thread = factories.thread(db.session.get(Board, ctx.board_a), db.session.get(User, ctx.users["member"]),
                              "Gute Praxis", "So geht es")
    factories.reply(thread, manager, "Genau so")
    best_practice.set_best_practice(manager, thread, True)
    ctx.extra["proposal_thread"] = thread.id
    ctx.extra["proposal"] = best_practice.propose(manager, db.session.get(Thread, thread.id), ctx.platform_board).id


def _best_practice_grow(ctx: Ctx, n: int) -> None:
    from forum.models import BestPracticeProposal, ProposalConsent
    authors = _authors(ctx, n)
    boards = bulk.boards(ctx.cluster_a, 2)
    threads = [t for b in boards + [ctx.board_a] for t in bulk.threads(b, authors, n // 3 + 1)]
    bulk.best_practice(threads[:n])
    for thread_id in threads[:n:4]:
        bulk.replies(thread_id, authors, 2)
    # every new author writes in the proposed thread and is asked to consent
    posts = bulk.replies(ctx.proposal_thread, authors, len(authors))
    proposal = db.session.get(BestPracticeProposal, ctx.proposal)
    proposal.post_ids = list(proposal.post_ids) + posts
    db.session.add_all(ProposalConsent(proposal_id=proposal.id, user_id=u, state=("pending", "agreed")[i % 2])
                       for i, u in enumerate(authors))
    db.session.commit()


BEST_PRACTICE = Scenario("best practice", (3, 60), _best_practice_grow, setup=_best_practice_setup, routes=(
    Route("moderation.best_practice_page", lambda c: f"/c/{c.slug_a}/best-practice", "member"),
    Route("moderation.proposal", lambda c: f"/vorschlaege/{c.proposal}", "member"),
))


# -- scenario: search ----------------------------------------------------------------------------------

def _search_grow(ctx: Ctx, n: int) -> None:
    from forum.search import service
    authors = _authors(ctx, n)
    for board_id in (ctx.board_a, ctx.platform_board, *bulk.boards(ctx.cluster_a, 2)):
        threads = bulk.threads(board_id, authors, n // 3 + 1, title="Wärmepumpe",
                               body="Die Wärmepumpe im Altbau der Tischlerei.")
        for thread_id in threads[::2]:
            bulk.replies(thread_id, authors, 2, body="Auch bei uns läuft die Wärmepumpe gut.")
    service.rebuild()


SEARCH = Scenario("search", (3, 60), _search_grow, routes=(
    Route("search.results", lambda c: "/search?q=W%C3%A4rmepumpe", "member"),
    Route("search.results", lambda c: "/search?q=W%C3%A4rmepumpe&sort=newest&per_page=50", "member"),
    Route("search.completions", lambda c: "/search/vorschlaege?q=W%C3%A4rme", "member"),
    Route("api.search", lambda c: "/api/v1/search?q=W%C3%A4rmepumpe&per_page=50", "member", api=True),
))


SCENARIOS = (THREAD, BOARD, CLUSTERS, MEMBERS, NOTIFICATIONS, REPORTS, MODLOG, QUEUES, BEST_PRACTICE, SEARCH)


# -- measuring ------------------------------------------------------------------------------------------

COUNT_OF_POSTS_OR_THREADS = re.compile(r"\bcount\([^;]*?\bFROM (?:posts|threads)\b", re.I)
ONE_THREAD_OR_BOARD = re.compile(r"\b(?:posts\.(?:thread_id|id)|threads\.(?:board_id|id))\s*(?:=|IN\b)", re.I)
# Counts over one cluster's posts, not narrowed to a thread or board; known and reported.
CLUSTER_WIDE_COUNTS = {
    "manage.overview": "posts awaiting approval in the cluster (protection.pending_count), a manager's page",
}


def _counts_whole_table(statement: str) -> bool:
    """A COUNT over posts or threads whose WHERE does not narrow it to given threads or boards."""
    statement = " ".join(statement.split())
    if not COUNT_OF_POSTS_OR_THREADS.search(statement):
        return False
    _select, _sep, where = statement.partition(" WHERE ")
    return not ONE_THREAD_OR_BOARD.search(where)


class Visitor:
    """Signs the test client in as each role (or holds a bearer token) and counts one request."""

    def __init__(self, client, ctx: Ctx, count_queries):
        self.client, self.ctx, self.count_queries = client, ctx, count_queries
        self.signed_in: str | None = None
        self.tokens: dict[str, str] = {}

    def _sign_in(self, role: str) -> None:
        if self.signed_in == role:
            return
        self.client.post("/logout")   # "auf allen Geräten": that account's API tokens end too
        self.tokens.pop(self.signed_in or "", None)
        if role != "anonymous":
            response = self.client.post("/login", data={"login": self.ctx.names[role], "password": factories.PASSWORD})
            assert response.status_code == 302, response.get_data(as_text=True)[:300]
        self.signed_in = role

    def _headers(self, route: Route) -> dict:
        if not route.api or route.role == "anonymous":
            return {}
        if route.role not in self.tokens:
            response = self.client.post("/api/v1/tokens", json={"username": self.ctx.names[route.role],
                                                                "password": factories.PASSWORD})
            assert response.status_code == 201, response.get_json()
            self.tokens[route.role] = response.get_json()["token"]
        return {"Authorization": f"Bearer {self.tokens[route.role]}"}

    def count(self, route: Route) -> tuple[int, list[str]]:
        if not route.api:
            self._sign_in(route.role)
        url, headers = route.url(self.ctx), self._headers(route)
        warm = self.client.get(url, headers=headers)  # read marks, "last seen", caches
        assert warm.status_code == route.status, (route.endpoint, url, warm.status_code,
                                                  warm.get_data(as_text=True)[:300])
        db.session.remove()  # a real request starts with an empty session
        with self.count_queries() as counted:
            response = self.client.get(url, headers=headers)
        assert response.status_code == route.status, (route.endpoint, url, response.status_code)
        db.session.remove()
        return counted.n, list(counted.statements)


def _ctx(world) -> Ctx:
    from forum.search import service

    service.drain()   # the worker's pass: the search index exists (else /readyz answers 503, search a notice)
    roles = ("member", "manager", "admin", "outsider")
    return Ctx(cluster_a=world.cluster_a.id, slug_a=world.cluster_a.slug, board_a=world.board_a.id,
               thread_a=world.thread_a.id, platform_board=world.platform_board.id,
               platform_thread=world.platform_thread.id,
               users={r: getattr(world, r).id for r in roles}, names={r: getattr(world, r).username for r in roles})


def _params():
    """One test per scenario, and a second one for its routes served by the lead's files (thread,
    board and start pages), so that part can be marked ``xfail`` on its own while they change."""
    for scenario in SCENARIOS:
        for lead in (False, True):
            routes = tuple(r for r in scenario.routes if r.lead == lead)
            if routes:
                yield pytest.param(scenario, routes, id=f"{scenario.name}{' (lead)' if lead else ''}")


@pytest.mark.parametrize("scenario,routes", list(_params()))
def test_statements_do_not_grow_with_the_list(scenario, routes, world, client, count_queries):
    ctx = _ctx(world)
    if scenario.setup:
        scenario.setup(ctx)
    db.session.remove()
    visitor = Visitor(client, ctx, count_queries)
    small, large = scenario.sizes
    scenario.grow(ctx, small)
    db.session.remove()
    few = [visitor.count(route) for route in routes]
    scenario.grow(ctx, large - small)
    db.session.remove()
    many = [visitor.count(route) for route in routes]

    problems = []
    for route, (n_few, few_sql), (n_many, many_sql) in zip(routes, few, many, strict=True):
        url = route.url(ctx)
        print(f"{scenario.name:<24} {route.role:<9} {url:<60} {n_few:>3} {n_many:>3}")
        if n_many > n_few + route.slack:
            problems.append(f"{route.endpoint} {url} as {route.role}: {n_few} statements with {small}, "
                            f"{n_many} with {large}\n    " + "\n    ".join(_extra(few_sql, many_sql)))
        if max(n_few, n_many) > route.bound:
            problems.append(f"{route.endpoint} {url} as {route.role}: {max(n_few, n_many)} statements, "
                            f"more than {route.bound}")
        whole = [s for s in many_sql if _counts_whole_table(s)]
        if whole and route.endpoint not in CLUSTER_WIDE_COUNTS:
            problems.append(f"{route.endpoint} {url} counts a whole table:\n    " + "\n    ".join(whole))
    assert not problems, "\n".join(problems)


def _extra(few: list[str], many: list[str]) -> list[str]:
    """The statements the large size repeats more often (the N+1), shortened."""
    grown = Counter(many) - Counter(few)
    return [f"{times}× {' '.join(sql.split())[:220]}" for sql, times in grown.most_common(4)]


def test_every_get_route_has_a_query_budget(app):
    """A new page or API GET route fails here until a scenario above counts its statements."""
    get_routes = {rule.endpoint for rule in app.url_map.iter_rules()
                  if "GET" in rule.methods and rule.endpoint != "static"}
    covered = {route.endpoint for scenario in SCENARIOS for route in scenario.routes}
    missing = get_routes - covered
    assert not missing, f"GET-Routen ohne Abfragebudget in tests/test_query_counts.py: {sorted(missing)}"
    assert not covered - get_routes, f"unbekannte Endpunkte: {sorted(covered - get_routes)}"


def test_the_whole_table_check_tells_narrow_counts_from_wide_ones():
    assert _counts_whole_table("SELECT count(*) AS count_1 FROM posts")
    assert _counts_whole_table("SELECT count(posts.id) FROM posts JOIN threads ON threads.id = posts.thread_id "
                               "JOIN boards ON boards.id = threads.board_id WHERE boards.cluster_id = ?")
    assert not _counts_whole_table("SELECT count(*) FROM posts WHERE posts.thread_id = ? AND posts.id < ?")
    assert not _counts_whole_table("SELECT posts.thread_id, count(posts.id) FROM posts WHERE posts.thread_id IN (?, ?)")
    assert not _counts_whole_table("SELECT count(*) FROM notifications WHERE notifications.user_id = ?")


def test_the_flat_view_reads_a_long_thread_along_an_index(world, db):
    """Page 1 of a thread with thousands of replies reads its 20 posts in index order
    (``ix_posts_thread_created``) instead of sorting the whole thread on every view."""
    from sqlalchemy import event

    from forum.models import Thread
    from forum.services import reading

    seen = []

    def remember(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        thread = db.session.get(Thread, world.thread_a.id)
        reading.thread_page(thread, "flat", 1, 20, world.member)
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    statement, parameters = next((s, p) for s, p in seen if "ORDER BY posts.created_at, posts.id" in s)
    raw = db.session.connection().connection.dbapi_connection
    cursor = raw.cursor()
    if db.engine.dialect.name == "postgresql":
        cursor.execute("SET LOCAL enable_sort = off")   # a sort then shows only if no index gives the order
        cursor.execute("EXPLAIN " + statement, parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Sort" not in plan and "ix_posts_thread_created" in plan, plan
    else:
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        assert "TEMP B-TREE" not in plan and "ix_posts_thread_created" in plan, plan
    db.session.rollback()

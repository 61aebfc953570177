"""Issue 15: what an attacker tried as a member, an outsider and a promoted admin. One section
per point of the issue handled here (points 1, 2/3, 4, 10, 11 have files of their own:
test_rendering_cost.py, test_token_lifetime.py, test_search_scope_statistics.py,
test_bad_input.py, test_account_security.py)."""
from __future__ import annotations

import pytest

from forum.web.redirects import local_target
from tests import factories

# -- point 5: open redirects ------------------------------------------------------------------------

HOSTILE_TARGETS = [
    "/\t/evil.example", "/%09/evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example",
    "/\n/evil.example", "/\r\n/evil.example", " //evil.example", "/\x00/evil.example", "https://evil.example/",
    "javascript:alert(1)", "http:/evil.example", "/\u3000/evil.example", "/\u200b/evil.example",
    "evil.example", "", "/\x7f/evil.example",
]


@pytest.mark.parametrize("raw", HOSTILE_TARGETS)
def test_a_next_parameter_never_leaves_the_site(raw):
    from urllib.parse import unquote
    for value in (raw, unquote(raw)):
        target = local_target(value, "/")
        assert target.startswith("/") and not target.startswith("//") and "\\" not in target
        assert "evil.example" not in target or target.startswith("/") and "//" not in target


def test_a_local_path_keeps_its_query_and_fragment():
    assert local_target("/t/5?seite=2#p9", "/") == "/t/5?seite=2#p9"
    assert local_target("/suche?q=W%C3%A4rmepumpe", "/") == "/suche?q=W%C3%A4rmepumpe"


def _location(response) -> str:
    return response.headers.get("Location", "")


def _stays_local(location: str) -> bool:
    from urllib.parse import urlsplit
    parts = urlsplit(location)
    return (parts.netloc in ("", "forum.test") and not parts.path.startswith("//") and "\\" not in location
            and not any(ord(c) < 0x21 for c in location))


@pytest.mark.parametrize("raw", ["/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example"])
def test_login_does_not_redirect_elsewhere(world, client, raw):
    response = client.post("/login", query_string={"next": raw},
                           data={"login": world.member.username, "password": factories.PASSWORD})
    assert response.status_code == 302 and _stays_local(_location(response)), _location(response)


def test_login_with_the_reported_next_goes_home(world, client):
    response = client.post("/login?next=/%09/evil.example",
                           data={"login": world.member.username, "password": factories.PASSWORD})
    assert _location(response) in ("/", "http://forum.test/")


@pytest.mark.parametrize("raw", ["/\t/evil.example", "//evil.example", "/\\evil.example"])
def test_language_switch_does_not_redirect_elsewhere(client, raw):
    response = client.post("/sprache", data={"locale": "de", "next": raw})
    assert response.status_code == 302 and _stays_local(_location(response)), _location(response)


@pytest.mark.parametrize("raw", ["/\t/evil.example", "//evil.example", "/\\evil.example"])
def test_marking_notifications_read_does_not_redirect_elsewhere(world, login, raw):
    client = login(world.member)
    response = client.post("/benachrichtigungen/gelesen", data={"next": raw})
    assert response.status_code == 302 and _stays_local(_location(response)), _location(response)


# -- point 6: posts awaiting approval reach nobody through another path ----------------------------

SECRET = "Geheimer Entwurf, noch nicht freigegeben"


@pytest.fixture
def pending(world):
    from tests.membership_factories import pending_post
    return pending_post(world.thread_a, world.member, SECRET)


def test_reply_form_does_not_quote_a_post_awaiting_approval(world, login, pending):
    for who in (world.manager, world.member):   # the moderators see it in their queue, not in a quote
        client = login(who)
        html = client.get(f"/t/{world.thread_a.id}/antworten?parent={pending.id}&zitat=1").get_data(as_text=True)
        assert SECRET not in html
        assert f'value="{pending.id}"' not in html


def test_nobody_replies_to_a_post_awaiting_approval_on_the_web(world, login, pending, db):
    from forum.models import Post
    client = login(world.manager)
    response = client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Antwort", "parent_id": pending.id})
    assert response.status_code == 400
    assert "gehört nicht zu diesem Thema" in response.get_data(as_text=True)
    assert db.session.query(Post).filter(Post.parent_id == pending.id).count() == 0


def test_nobody_replies_to_a_post_awaiting_approval_through_the_api(world, api_token, client, pending):
    for who in (world.manager, world.member, world.outsider):
        response = client.post(f"/api/v1/threads/{world.thread_a.id}/posts", headers=api_token(who),
                               json={"body": "Antwort", "parent_id": pending.id})
        assert response.status_code in (400, 404)
        assert SECRET not in response.get_data(as_text=True)
    unknown = client.post(f"/api/v1/threads/{world.thread_a.id}/posts", headers=api_token(world.manager),
                          json={"body": "Antwort", "parent_id": pending.id + 1000})
    answer = client.post(f"/api/v1/threads/{world.thread_a.id}/posts", headers=api_token(world.manager),
                         json={"body": "Antwort", "parent_id": pending.id})
    assert answer.get_json() == unknown.get_json()   # the same answer as for a post that does not exist


def test_a_post_awaiting_approval_takes_no_reactions_reports_or_solution(world, api_token, client, pending):
    manager = api_token(world.manager)
    assert client.put(f"/api/v1/posts/{pending.id}/reactions/daumen", headers=manager).status_code in (403, 404)
    other = api_token(world.manager)
    report = client.post(f"/api/v1/posts/{pending.id}/reports", headers=other, json={"reason": "spam"})
    assert report.status_code in (403, 404), report.get_json()


def test_a_post_awaiting_approval_stays_out_of_reach_of_other_members(world, api_token, client, login, pending):
    member_b = factories.user("mitglied.zwei")
    factories.member(world.cluster_a, member_b)
    headers = api_token(member_b)
    for path in (f"/api/v1/posts/{pending.id}/revisions", f"/api/v1/posts/{pending.id}/reactions"):
        assert client.get(path, headers=headers).status_code == 404
    client = login(member_b)
    assert client.get(f"/p/{pending.id}").status_code == 404
    assert client.get(f"/p/{pending.id}/versionen").status_code == 404
    assert client.get(f"/p/{pending.id}/melden").status_code == 404
    html = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert SECRET not in html


# -- point 7: an admin never joins a cluster silently; the log keeps its content from outsiders -----

def test_an_admin_joining_a_cluster_is_logged_and_its_managers_are_told(world, login, db):
    from forum.models import ModerationLogEntry, Notification
    client = login(world.admin)
    response = client.post(f"/admin/cluster/{world.cluster_a.slug}", data={"username": world.admin.username,
                                                                          "role": "manager"})
    assert response.status_code == 302
    entries = db.session.query(ModerationLogEntry).filter_by(action="member.admin_self_add").all()
    assert {e.cluster_id for e in entries} == {world.cluster_a.id, None}   # the cluster's log and the platform log
    assert all(e.actor_id == world.admin.id and e.target_id == world.admin.id for e in entries)
    told = db.session.query(Notification).filter_by(kind="admin_membership").all()
    assert [n.user_id for n in told] == [world.manager.id]
    client = login(world.manager)
    html = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "(Plattform-Admin) ist „" in html and f"„{world.cluster_a.name}“ als Clustermanager:in beigetreten" in html
    log = client.get(f"/c/{world.cluster_a.slug}/protokoll").get_data(as_text=True)
    assert "Plattform-Admin ist selbst beigetreten" in log


def test_an_admin_adding_someone_else_is_logged_too(world, login, db):
    from forum.models import ModerationLogEntry
    client = login(world.admin)
    client.post(f"/admin/cluster/{world.cluster_a.slug}", data={"username": world.loner.username, "role": "member"})
    entries = db.session.query(ModerationLogEntry).filter_by(action="member.admin_add").all()
    assert {e.cluster_id for e in entries} == {world.cluster_a.id, None}
    assert all(e.target_id == world.loner.id for e in entries)


REASON = "Streit um das Angebot der Firma Krämer"


@pytest.fixture
def locked_with_reason(world):
    from forum.services import moderation
    return moderation.lock(world.manager, world.thread_a, REASON)


def test_a_non_member_admin_sees_no_targets_or_reasons_in_a_clusters_log(world, login, locked_with_reason):
    client = login(world.admin)
    html = client.get(f"/c/{world.cluster_a.slug}/protokoll").get_data(as_text=True)
    assert "Thema gesperrt" in html                       # who did what, and when
    assert REASON not in html and f"thread {world.thread_a.id}" not in html
    assert world.thread_a.title not in html
    client = login(world.manager)
    html = client.get(f"/c/{world.cluster_a.slug}/protokoll").get_data(as_text=True)
    assert REASON in html and world.thread_a.title in html


def test_a_non_member_admin_gets_no_targets_or_reasons_from_the_log_api(world, client, api_token, locked_with_reason):
    entries = client.get(f"/api/v1/clusters/{world.cluster_a.slug}/modlog", headers=api_token(world.admin)).get_json()
    [entry] = [e for e in entries["items"] if e["action"] == "thread.lock"]
    assert entry["target_id"] is None and entry["reason"] == "" and entry["details"] == {}
    entries = client.get(f"/api/v1/clusters/{world.cluster_a.slug}/modlog", headers=api_token(world.manager)).get_json()
    [entry] = [e for e in entries["items"] if e["action"] == "thread.lock"]
    assert entry["target_id"] == world.thread_a.id and entry["reason"] == REASON


def test_a_non_member_admin_sees_no_per_board_counts(world, login):
    client = login(world.admin)
    html = client.get(f"/c/{world.cluster_a.slug}/verwaltung/bretter").get_data(as_text=True)
    assert world.board_a.name in html and " Beiträge" not in html
    client = login(world.manager)
    assert " Beiträge" in client.get(f"/c/{world.cluster_a.slug}/verwaltung/bretter").get_data(as_text=True)


# -- point 8: single-use links hold under concurrency; a manager invitation binds to its address ----

def test_two_accounts_accepting_one_invitation_at_the_same_moment_only_one_joins(app, world, monkeypatch):
    import threading

    from forum.extensions import db
    from forum.models import Membership, User
    from forum.services import membership
    from tests import membership_factories

    token = membership.token_for(membership_factories.invitation(world.cluster_a, world.manager))
    ids = [factories.user("gleichzeitig.eins").id, factories.user("gleichzeitig.zwei").id]
    barrier = threading.Barrier(2, timeout=20)
    original = membership.invitation_for_token

    def both_read_it_open(link):
        found = original(link)
        barrier.wait()        # both requests have seen an open invitation before either writes
        return found

    monkeypatch.setattr(membership, "invitation_for_token", both_read_it_open)
    outcomes: list[str] = []

    def accept(user_id: int) -> None:
        with app.app_context():
            try:
                membership.accept(db.session.get(User, user_id), token)
                outcomes.append("joined")
            except membership.InvalidInvitation as error:
                outcomes.append("refused: " + error.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=accept, args=(user_id,)) for user_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(o[:6] for o in outcomes) == ["joined", "refuse"], outcomes
    assert "gilt nur einmal" in [o for o in outcomes if o.startswith("refused")][0]
    joined = db.session.query(Membership).filter(Membership.cluster_id == world.cluster_a.id,
                                                 Membership.user_id.in_(ids)).count()
    assert joined == 1


def test_a_manager_invitation_only_works_for_the_invited_address(world, login, client, api_token):
    from forum.services import membership
    from tests import membership_factories

    invitation = membership_factories.invitation(world.cluster_a, world.manager, "neue.leitung@example.org", "manager")
    token = membership.token_for(invitation)
    response = client.post(f"/api/v1/invites/{token}/accept", headers=api_token(world.outsider))
    assert response.status_code == 403
    assert "gilt nur für das Konto mit der Adresse" in response.get_json()["error"]["message"]
    assert world.cluster_a.id not in world.outsider.cluster_ids
    invited = factories.user("neue.leitung")   # neue.leitung@example.org
    response = client.post(f"/api/v1/invites/{token}/accept", headers=api_token(invited))
    assert response.status_code == 200 and response.get_json()["role"] == "manager"


def test_a_member_invitation_may_still_be_taken_up_by_a_colleagues_account(world, client, api_token):
    from forum.services import membership
    from tests import membership_factories

    token = membership.token_for(membership_factories.invitation(world.cluster_a, world.manager, "buero@example.org"))
    response = client.post(f"/api/v1/invites/{token}/accept", headers=api_token(world.loner))
    assert response.status_code == 200 and response.get_json()["role"] == "member"


# -- point 9: throttles count per account, whatever the spelling; limits hold under concurrency -----

@pytest.fixture
def limits_on(app):
    from forum.extensions import limiter
    app.config.update(RATELIMIT_ENABLED=True, LIMIT_POSTS="10 per minute", LIMIT_PASSWORD_RESET="100 per minute",
                      LIMIT_PASSWORD_RESET_ADDRESS="3 per hour")
    limiter.init_app(app)
    limiter.reset()
    yield limiter
    limiter.reset()
    limiter.enabled = False


def test_login_failures_count_per_account_whatever_spelling(world, client, limits_on):
    spellings = [world.member.username, world.member.email, world.member.email.upper(),
                 f"  {world.member.username.title()} "]
    for attempt in range(5):
        response = client.post("/login", data={"login": spellings[attempt % len(spellings)], "password": "falsch"})
        assert response.status_code == 200
    for spelling in spellings:
        response = client.post("/login", data={"login": spelling, "password": factories.PASSWORD})
        assert response.status_code == 429, spelling
    api = client.post("/api/v1/tokens", json={"username": world.member.email, "password": factories.PASSWORD})
    assert api.status_code == 429


def test_login_failures_for_unknown_names_still_count_per_name(world, client, limits_on):
    for _attempt in range(5):
        client.post("/login", data={"login": "niemand@example.org", "password": "falsch"})
    assert client.post("/login", data={"login": "NIEMAND@example.org", "password": "x"}).status_code == 429
    assert client.post("/login",
                       data={"login": world.member.username, "password": factories.PASSWORD}).status_code == 302


def test_reset_mails_count_per_account_whatever_spelling(world, client, limits_on):
    for spelling in (world.member.username, world.member.email, world.member.email.upper()):
        assert client.post("/passwort-vergessen", data={"login": spelling}).status_code == 302
    response = client.post("/passwort-vergessen", data={"login": f" {world.member.username.upper()}"})
    assert response.status_code == 429


def test_the_posting_limit_holds_for_requests_arriving_at_once(app, world, api_token, limits_on, monkeypatch):
    """12 replies sent at the same moment against "5 per minute": exactly 5 are saved (the issue
    saw 16 of 25 pass "10 per minute"; 12 threads stay within the connection pool's 15)."""
    app.config["LIMIT_POSTS"] = "5 per minute"
    import threading

    from forum.extensions import db
    from forum.models import Post
    from forum.services import posting

    headers = api_token(world.member)
    before = db.session.query(Post).filter_by(thread_id=world.thread_a.id).count()
    original = posting.reply

    def slow_reply(*args, **kwargs):
        import time
        time.sleep(0.2)        # every request is inside the view while the others arrive
        return original(*args, **kwargs)

    monkeypatch.setattr(posting, "reply", slow_reply)
    start = threading.Barrier(12, timeout=30)
    statuses: list[int] = []

    def send(n: int) -> None:
        client = app.test_client()
        start.wait()
        response = client.post(f"/api/v1/threads/{world.thread_a.id}/posts", headers=headers,
                               json={"body": f"Gleichzeitige Antwort {n}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(set(statuses)) == [201, 429], statuses
    assert statuses.count(201) == 5
    db.session.expire_all()
    assert db.session.query(Post).filter_by(thread_id=world.thread_a.id).count() - before == 5


def test_failed_posts_still_do_not_count(world, api_token, client, limits_on):
    headers = api_token(world.member)
    for _attempt in range(15):
        response = client.post(f"/api/v1/threads/{world.thread_a.id}/posts", headers=headers, json={"body": ""})
        assert response.status_code == 400
    saved = [client.post(f"/api/v1/threads/{world.thread_a.id}/posts", headers=headers,
                         json={"body": f"Antwort {n}"}).status_code for n in range(11)]
    assert saved == [201] * 10 + [429]


# -- point 12: the page cache's version moves after a commit, not only before it -------------------

def test_a_page_rendered_during_a_commit_is_not_served_after_it(app, world, db):
    """The version a page is tagged with, read by another request while a commit is under way,
    must differ from the version after the commit: else that page, rendered from the data as
    it was, is served as current until the next write."""
    import threading

    from sqlalchemy import event

    from forum.page_cache import database_version
    from forum.services import posting

    during: list[object] = []

    def read_version_elsewhere() -> None:
        with app.app_context():
            during.append(database_version())
            db.session.remove()

    def while_committing(_connection) -> None:
        if not during:
            reader = threading.Thread(target=read_version_elsewhere)
            reader.start()
            reader.join(20)

    event.listen(db.engine, "commit", while_committing)
    try:
        posting.reply(world.manager, world.thread_a, "Eine Antwort, die gerade gespeichert wird")
    finally:
        event.remove(db.engine, "commit", while_committing)
    assert during, "the commit hook did not run"
    if db.engine.dialect.name == "sqlite":
        # the epoch of this process, as the next request on the writer's own connection reads it
        # (PRAGMA data_version does not move for a connection's own commits)
        from forum.page_cache import _epoch
        assert _epoch.value != during[0]
    else:
        assert database_version() != during[0]

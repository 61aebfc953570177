"""Every web route × every role → the expected status. A route without an entry fails the test,
so a new page cannot ship without deciding who may see it."""
from __future__ import annotations

import pytest

from tests import factories
from tests.test_moderation_matrix import WEB_GET as MODERATION_WEB_GET, WEB_POST as MODERATION_WEB_POST

ROLES = ["anonymous", "outsider", "member", "manager", "manager_b", "admin"]

# Expected status per role; "login" = redirect to the log-in page.
PRIVATE = {"anonymous": "login", "outsider": 404, "member": 200, "manager": 200, "manager_b": 404, "admin": 404}
SIGNED_IN = {"anonymous": "login", "outsider": 200, "member": 200, "manager": 200, "manager_b": 200, "admin": 200}
PUBLIC = dict.fromkeys(ROLES, 200)
ADMIN_ONLY = {"anonymous": "login", "outsider": 404, "member": 404, "manager": 404, "manager_b": 404, "admin": 200}
OWN_POST = {"anonymous": "login", "outsider": 404, "member": 200, "manager": 200, "manager_b": 404, "admin": 404}

# -- cluster management
MANAGE = {"anonymous": "login", "outsider": 404, "member": 404, "manager": 200, "manager_b": 404, "admin": 200}
REVIEW = {**MANAGE, "admin": 404}  # queues that show content: the cluster's managers only
MANAGE_POST = {"anonymous": "login", "outsider": 404, "member": 404, "manager": 302, "manager_b": 404, "admin": 302}
REVIEW_POST = {**MANAGE_POST, "admin": 404}
ADMIN_POST = {**ADMIN_ONLY, "admin": 302}


def _manage(w, rest=""):
    return f"/c/{w.cluster_a.slug}/verwaltung{rest}"


def _invitation(w):
    from tests import membership_factories
    return membership_factories.invitation(w.cluster_a, w.manager).id


def _join_request(w):
    from tests import membership_factories
    return membership_factories.join_request(w.cluster_a, w.loner).id


def _interest(w):
    from tests import membership_factories
    return membership_factories.interest(w.cluster_a).id


def _member_token(w):
    from forum.services import accounts
    return accounts.issue_api_token(w.member, days=1, name="Tablet")[1].id


def _pending(w):
    from tests import membership_factories
    return membership_factories.pending_post(w.thread_a, w.member).id


# endpoint → (URL for cluster A's objects, expected statuses)
GET_MATRIX = {
    "main.index": (lambda w, ids: "/", PUBLIC),
    "main.healthz": (lambda w, ids: "/healthz", PUBLIC),
    "main.readyz": (lambda w, ids: "/readyz", PUBLIC),
    "auth.login": (lambda w, ids: "/login", {**PUBLIC, **{r: 302 for r in ROLES if r != "anonymous"}}),
    "auth.reset_request": (lambda w, ids: "/passwort-vergessen", PUBLIC),
    "auth.reset": (lambda w, ids: "/passwort-neu/ungueltig", dict.fromkeys(ROLES, 302)),
    "accounts.profile": (lambda w, ids: f"/u/{w.member.username}",
                         {"anonymous": "login", "outsider": 404, "member": 200, "manager": 200, "manager_b": 404,
                          "admin": 200}),
    "accounts.edit_profile": (lambda w, ids: "/konto", SIGNED_IN),
    "accounts.change_password": (lambda w, ids: "/konto/passwort", SIGNED_IN),
    "accounts.change_email": (lambda w, ids: "/konto/email", SIGNED_IN),
    "accounts.confirm_email": (lambda w, ids: "/konto/email/bestaetigen/ungueltig", dict.fromkeys(ROLES, 302)),
    # -- two-factor log-in (tests/test_two_factor.py); the QR code exists once the set-up page made a secret
    "auth.second_factor": (lambda w, ids: "/login/bestaetigen", dict.fromkeys(ROLES, 302)),
    "twofactor.settings": (lambda w, ids: "/konto/zwei-faktor", SIGNED_IN),
    "api_tokens.index": (lambda w, ids: "/konto/zugangstokens", SIGNED_IN),
    "twofactor.setup": (lambda w, ids: "/konto/zwei-faktor/einrichten", SIGNED_IN),
    "twofactor.qr_code": (lambda w, ids: "/konto/zwei-faktor/qr.svg", SIGNED_IN),
    "twofactor.disable": (lambda w, ids: "/konto/zwei-faktor/ausschalten",
                          {**dict.fromkeys(ROLES, 302), "anonymous": "login"}),
    "clusters.show": (lambda w, ids: f"/c/{w.cluster_a.slug}", {**PRIVATE, "admin": 200}),
    "clusters.members": (lambda w, ids: f"/c/{w.cluster_a.slug}/mitglieder", PRIVATE),
    "clusters.board": (lambda w, ids: f"/b/{w.board_a.id}", PRIVATE),
    "clusters.new_thread": (lambda w, ids: f"/b/{w.board_a.id}/neu", PRIVATE),
    "threads.show": (lambda w, ids: f"/t/{w.thread_a.id}", PRIVATE),
    "threads.reply": (lambda w, ids: f"/t/{w.thread_a.id}/antworten", PRIVATE),
    "threads.permalink": (lambda w, ids: f"/p/{ids['post']}", {**PRIVATE, "member": 302, "manager": 302}),
    "threads.edit": (lambda w, ids: f"/p/{ids['post']}/bearbeiten", OWN_POST),
    "threads.delete": (lambda w, ids: f"/p/{ids['post']}/loeschen", OWN_POST),
    "threads.revisions": (lambda w, ids: f"/p/{ids['post']}/versionen", PRIVATE),
    "admin.users": (lambda w, ids: "/admin/konten", ADMIN_ONLY),
    "admin.cluster_list": (lambda w, ids: "/admin/cluster", ADMIN_ONLY),
    "admin.cluster_detail": (lambda w, ids: f"/admin/cluster/{w.cluster_a.slug}", ADMIN_ONLY),
    "manage.home": (lambda w, ids: "/verwaltung", {**MANAGE, "manager": 302, "manager_b": 302}),
    "manage.overview": (lambda w, ids: _manage(w), MANAGE),
    "manage.members": (lambda w, ids: _manage(w, "/mitglieder"), MANAGE),
    "manage.invitations": (lambda w, ids: _manage(w, "/einladungen"), MANAGE),
    "manage.requests": (lambda w, ids: _manage(w, "/anfragen"), MANAGE),
    "manage.boards": (lambda w, ids: _manage(w, "/bretter"), MANAGE),
    "manage.board_edit": (lambda w, ids: _manage(w, f"/bretter/{w.board_a.id}"), MANAGE),
    "manage.protection_settings": (lambda w, ids: _manage(w, "/schutz"), REVIEW),
    "manage.slow_mode": (lambda w, ids: f"/t/{w.thread_a.id}/langsamer-modus", REVIEW),
    "join.mitmachen": (lambda w, ids: "/mitmachen", PUBLIC),
    "join.invitation": (lambda w, ids: "/einladung/kein-gueltiger-link", dict.fromkeys(ROLES, 400)),
    "admin.user_detail": (lambda w, ids: f"/admin/konten/{w.member.username}", ADMIN_ONLY),
    "admin.cluster_edit": (lambda w, ids: f"/admin/cluster/{w.cluster_a.slug}/bearbeiten", ADMIN_ONLY),
    "admin.boards": (lambda w, ids: "/admin/bretter", ADMIN_ONLY),
    "admin.board_edit": (lambda w, ids: f"/admin/bretter/{w.platform_board.id}", ADMIN_ONLY),
    "admin.interests": (lambda w, ids: "/admin/interessenten", ADMIN_ONLY),
    "search.results": (lambda w, ids: "/search?q=Azubi", SIGNED_IN),
    "search.completions": (lambda w, ids: "/search/vorschlaege?q=Azu", SIGNED_IN),
    # -- notifications
    "notifications.index": (lambda w, ids: "/benachrichtigungen", SIGNED_IN),
    "notifications.open_notification": (lambda w, ids: "/benachrichtigungen/999999",
                                        {**dict.fromkeys(ROLES, 404), "anonymous": "login"}),
    "notifications.settings": (lambda w, ids: "/konto/benachrichtigungen", SIGNED_IN),
    "notifications.unsubscribe": (lambda w, ids: "/abmelden/ungueltig", dict.fromkeys(ROLES, 404)),
    "notifications.first_unread": (lambda w, ids: f"/t/{w.thread_a.id}/ungelesen",
                                   {**PRIVATE, "member": 302, "manager": 302}),
    "notifications.thread_mentions": (lambda w, ids: f"/t/{w.thread_a.id}/erwaehnungen?q=mi", PRIVATE),
    "notifications.board_mentions": (lambda w, ids: f"/b/{w.board_a.id}/erwaehnungen?q=mi", PRIVATE),
}
# POST-only routes: the form is sent by each role; outsiders must get 404 for private objects.
POST_MATRIX = {
    "main.language": (lambda w, ids: "/sprache", {"locale": "de"}, dict.fromkeys(ROLES, 302)),
    "threads.preview": (lambda w, ids: "/vorschau", {"body": "**fett**"}, SIGNED_IN),
    # -- cluster management (in this order: the later ones change the member and the board)
    "manage.invitation_resend": (lambda w, ids: _manage(w, f"/einladungen/{_invitation(w)}/erneut"), {}, MANAGE_POST),
    "manage.invitation_revoke": (lambda w, ids: _manage(w, f"/einladungen/{_invitation(w)}/widerrufen"), {},
                                 MANAGE_POST),
    "manage.request_decide": (lambda w, ids: _manage(w, f"/anfragen/{_join_request(w)}/ablehnen"), {}, MANAGE_POST),
    "manage.interest_decide": (lambda w, ids: _manage(w, f"/interessenten/{_interest(w)}/ablehnen"), {}, MANAGE_POST),
    "manage.post_decide": (lambda w, ids: _manage(w, f"/freigaben/{_pending(w)}/freigeben"), {}, REVIEW_POST),
    "manage.member_role": (lambda w, ids: _manage(w, f"/mitglieder/{w.member.id}/rolle"), {"role": "member"},
                           MANAGE_POST),
    "manage.member_suspend": (lambda w, ids: _manage(w, f"/mitglieder/{w.member.id}/sperren"),
                              {"reason": "Ton verfehlt"}, MANAGE_POST),
    "manage.member_unsuspend": (lambda w, ids: _manage(w, f"/mitglieder/{w.member.id}/entsperren"), {}, MANAGE_POST),
    "manage.member_remove": (lambda w, ids: _manage(w, f"/mitglieder/{w.member.id}/entfernen"), {}, MANAGE_POST),
    "manage.board_move": (lambda w, ids: _manage(w, f"/bretter/{w.board_a.id}/runter"), {}, MANAGE_POST),
    "manage.board_archive": (lambda w, ids: _manage(w, f"/bretter/{w.board_a.id}/archivieren"), {}, MANAGE_POST),
    "join.request_join": (lambda w, ids: f"/mitmachen/{w.cluster_a.slug}/anfragen", {},
                          {**dict.fromkeys(ROLES, 302), "anonymous": "login"}),
    "admin.user_suspend": (lambda w, ids: f"/admin/konten/{w.loner.username}/sperren", {"reason": "Spam"}, ADMIN_POST),
    "admin.board_move": (lambda w, ids: f"/admin/bretter/{w.platform_board.id}/hoch", {}, ADMIN_POST),
    "admin.board_archive": (lambda w, ids: f"/admin/bretter/{w.platform_board.id}/archivieren", {}, ADMIN_POST),
    "admin.interest_decide": (lambda w, ids: f"/admin/interessenten/{_interest(w)}/ablehnen", {}, ADMIN_POST),
    # -- notifications
    "notifications.mark_read": (lambda w, ids: "/benachrichtigungen/gelesen", {"alle": "1"},
                                {**dict.fromkeys(ROLES, 302), "anonymous": "login"}),
    "notifications.watch": (lambda w, ids: f"/beobachten/thread/{w.thread_a.id}", {"level": "watching"},
                            {**PRIVATE, "member": 302, "manager": 302}),
    "notifications.board_read": (lambda w, ids: f"/b/{w.board_a.id}/gelesen", {},
                                 {**PRIVATE, "member": 302, "manager": 302}),
    "notifications.thread_read": (lambda w, ids: f"/t/{w.thread_a.id}/gelesen", {"post": "999999"},
                                  {**PRIVATE, "member": 302, "manager": 302}),
    "notifications.react": (lambda w, ids: f"/p/{ids['post']}/reaktion", {"kind": "daumen"},
                            {**PRIVATE, "member": 302, "manager": 302}),
    **MODERATION_WEB_POST,  # -- moderation (tests/test_moderation_matrix.py)
    "twofactor.recovery_codes": (lambda w, ids: "/konto/zwei-faktor/wiederherstellungscodes", {"password": "x"},
                                 # without two-factor: back to settings
                                 {**dict.fromkeys(ROLES, 302), "anonymous": "login"}),
    "api_tokens.revoke": (lambda w, ids: f"/konto/zugangstokens/{_member_token(w)}/widerrufen", {},
                          {**dict.fromkeys(ROLES, 404), "member": 302, "anonymous": "login"}),  # one's own only
    "auth.logout": (lambda w, ids: "/logout", {},
                    {**dict.fromkeys(ROLES, 302), "anonymous": "login"}),  # last: signs out
}
GET_MATRIX.update(MODERATION_WEB_GET)  # -- moderation
NOT_WEB = {"static"}


def _expected_ok(response, expected):
    if expected == "login":
        return response.status_code == 302 and "/login" in response.headers["Location"]
    return response.status_code == expected


def test_every_web_route_has_an_entry(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if not rule.endpoint.startswith("api.") and rule.endpoint not in NOT_WEB}
    missing = endpoints - set(GET_MATRIX) - set(POST_MATRIX)
    assert not missing, f"Routen ohne Eintrag in der Sichtbarkeitsmatrix: {sorted(missing)}"


@pytest.fixture
def cast(world, login, client):
    from forum.search import service

    post = factories.reply(world.thread_a, world.member, "Antwort im Cluster A")
    service.drain()   # the worker's pass: the search index exists (else /readyz answers 503)

    def as_role(role):
        client.post("/logout")
        if role != "anonymous":
            login(getattr(world, role))
        return client
    return world, {"post": post.id}, as_role


@pytest.mark.parametrize("role", ROLES)
def test_get_matrix(cast, role, app):
    world, ids, as_role = cast
    client = as_role(role)
    failures = []
    for endpoint, (url, expected) in GET_MATRIX.items():
        if endpoint not in app.view_functions:
            failures.append(f"{endpoint}: Route fehlt")
            continue
        response = client.get(url(world, ids))
        if not _expected_ok(response, expected[role]):
            failures.append(f"{endpoint} {url(world, ids)}: {response.status_code}, erwartet {expected[role]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_post_matrix(cast, role):
    world, ids, as_role = cast
    client = as_role(role)
    failures = []
    for endpoint, (url, data, expected) in POST_MATRIX.items():
        response = client.post(url(world, ids), data=data)
        if not _expected_ok(response, expected[role]):
            failures.append(f"{endpoint}: {response.status_code}, erwartet {expected[role]}")
    assert not failures, "\n".join(failures)


WRITES_IN_CLUSTER_A = [
    ("reply", lambda w, ids: f"/t/{w.thread_a.id}/antworten", {"body": "Ich bin draußen"}),
    ("new thread", lambda w, ids: f"/b/{w.board_a.id}/neu", {"title": "Fremd", "body": "Fremd"}),
    ("edit", lambda w, ids: f"/p/{ids['post']}/bearbeiten", {"body": "Übernommen"}),
    ("delete", lambda w, ids: f"/p/{ids['post']}/loeschen", {}),
]


@pytest.mark.parametrize("role", ["outsider", "manager_b", "admin"])
def test_outsiders_get_404_for_every_write_into_a_private_cluster(cast, role, db):
    world, ids, as_role = cast
    client = as_role(role)
    for name, url, data in WRITES_IN_CLUSTER_A:
        response = client.post(url(world, ids), data=data)
        assert response.status_code == 404, (name, response.status_code)
    from forum.models import Post
    assert db.session.get(Post, ids["post"]).body_markdown == "Antwort im Cluster A"

"""Every web route × every role → the expected status. A route without an entry fails the test,
so a new page cannot ship without deciding who may see it."""
from __future__ import annotations

import pytest

from tests import factories

ROLES = ["anonymous", "outsider", "member", "manager", "manager_b", "admin"]

# Expected status per role; "login" = redirect to the log-in page.
PRIVATE = {"anonymous": "login", "outsider": 404, "member": 200, "manager": 200, "manager_b": 404, "admin": 404}
SIGNED_IN = {"anonymous": "login", "outsider": 200, "member": 200, "manager": 200, "manager_b": 200, "admin": 200}
PUBLIC = {role: 200 for role in ROLES}
ADMIN_ONLY = {"anonymous": "login", "outsider": 404, "member": 404, "manager": 404, "manager_b": 404, "admin": 200}
OWN_POST = {"anonymous": "login", "outsider": 404, "member": 200, "manager": 200, "manager_b": 404, "admin": 404}

# endpoint → (URL for cluster A's objects, expected statuses)
GET_MATRIX = {
    "main.index": (lambda w, ids: "/", PUBLIC),
    "main.healthz": (lambda w, ids: "/healthz", PUBLIC),
    "main.readyz": (lambda w, ids: "/readyz", PUBLIC),
    "auth.login": (lambda w, ids: "/login", {**PUBLIC, **{r: 302 for r in ROLES if r != "anonymous"}}),
    "auth.reset_request": (lambda w, ids: "/passwort-vergessen", PUBLIC),
    "auth.reset": (lambda w, ids: "/passwort-neu/ungueltig", {role: 302 for role in ROLES}),
    "accounts.profile": (lambda w, ids: f"/u/{w.member.username}",
                         {"anonymous": "login", "outsider": 404, "member": 200, "manager": 200, "manager_b": 404, "admin": 200}),
    "accounts.edit_profile": (lambda w, ids: "/konto", SIGNED_IN),
    "accounts.change_password": (lambda w, ids: "/konto/passwort", SIGNED_IN),
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
    "search.results": (lambda w, ids: "/search?q=Azubi", SIGNED_IN),
    "search.completions": (lambda w, ids: "/search/vorschlaege?q=Azu", SIGNED_IN),
}
# POST-only routes: the form is sent by each role; outsiders must get 404 for private objects.
POST_MATRIX = {
    "main.language": (lambda w, ids: "/sprache", {"locale": "de"}, {role: 302 for role in ROLES}),
    "threads.preview": (lambda w, ids: "/vorschau", {"body": "**fett**"}, SIGNED_IN),
    "auth.logout": (lambda w, ids: "/logout", {}, {**{r: 302 for r in ROLES}, "anonymous": "login"}),  # last: signs out
}
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
    post = factories.reply(world.thread_a, world.member, "Antwort im Cluster A")

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

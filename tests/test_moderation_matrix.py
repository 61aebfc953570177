"""Who reaches the moderation routes. The entries are merged into the project-wide matrices
(``tests/test_visibility_matrix.py`` for web routes, ``tests/test_api.py`` for the API), which
check every role; the tests here add the manager of another cluster to the API matrix."""
from __future__ import annotations

import pytest

from forum import permissions
from forum.extensions import db
from forum.models import Post
from forum.services import best_practice, reports
from tests import factories
from tests.test_openapi import PREFIX, spec_checked_client  # noqa: F401  (autouse fixture)

# web roles: anonymous, outsider, member, manager, manager_b, admin
MANAGERS = {"anonymous": "login", "outsider": 404, "member": 403, "manager": 200, "manager_b": 404, "admin": 404}
MANAGERS_POST = {**MANAGERS, "manager": 302}
READERS = {"anonymous": "login", "outsider": 404, "member": 200, "manager": 200, "manager_b": 404, "admin": 404}


def _post(ids) -> Post:
    return db.session.get(Post, ids["post"])


def _report(w, ids) -> int:
    return reports.create_report(w.manager, _post(ids), "spam").id


def _proposal(w) -> int:
    """A fresh best-practice thread by the member (if an earlier entry has not removed them from
    the cluster) with a reply by the manager, proposed."""
    board = factories.board(w.cluster_a)  # earlier entries may have archived board A (and the platform board)
    author = w.member if permissions.can_start_thread(w.member, board) else w.manager
    thread = factories.thread(board, author, "Gute Praxis", "So geht es")
    factories.reply(thread, w.manager, "Genau so")
    best_practice.set_best_practice(w.manager, thread, True)
    return best_practice.propose(w.manager, thread, factories.board(None).id).id


WEB_GET = {
    "moderation.queue": (lambda w, ids: "/moderation/meldungen",
                         {**MANAGERS, "member": 404, "manager_b": 200, "admin": 200}),
    "moderation.cluster_reports": (lambda w, ids: f"/c/{w.cluster_a.slug}/meldungen", {**MANAGERS, "admin": 403}),
    "moderation.report": (lambda w, ids: f"/meldungen/{_report(w, ids)}", {**MANAGERS, "member": 404}),
    "moderation.log": (lambda w, ids: f"/c/{w.cluster_a.slug}/protokoll", {**MANAGERS, "admin": 200}),
    "moderation.platform_log": (lambda w, ids: "/moderation/protokoll",
                                {"anonymous": "login", "outsider": 404, "member": 404, "manager": 404,
                                 "manager_b": 404, "admin": 200}),
    "moderation.best_practice_page": (lambda w, ids: f"/c/{w.cluster_a.slug}/best-practice", READERS),
    "moderation.report_post": (lambda w, ids: f"/p/{ids['post']}/melden", MANAGERS),  # the member wrote it
    "moderation.thread_tools": (lambda w, ids: f"/t/{w.thread_a.id}/moderation", MANAGERS),
    "moderation.post_tools": (lambda w, ids: f"/p/{ids['post']}/moderation", MANAGERS),
    "moderation.proposal": (lambda w, ids: f"/vorschlaege/{_proposal(w)}", READERS),
}

# in this order for each role on one world
WEB_POST = {
    "moderation.pin": (lambda w, ids: f"/t/{w.thread_a.id}/anheften", {}, MANAGERS_POST),
    "moderation.unpin": (lambda w, ids: f"/t/{w.thread_a.id}/abheften", {}, MANAGERS_POST),
    "moderation.lock": (lambda w, ids: f"/t/{w.thread_a.id}/sperren", {"lock_reason": "Ruhe"}, MANAGERS_POST),
    "moderation.unlock": (lambda w, ids: f"/t/{w.thread_a.id}/entsperren", {}, MANAGERS_POST),
    "moderation.edit_thread": (lambda w, ids: f"/t/{w.thread_a.id}/titel", {"title": "Neuer Titel"}, MANAGERS_POST),
    "moderation.set_best_practice": (lambda w, ids: f"/t/{w.thread_a.id}/best-practice", {"wert": "an"},
                                     MANAGERS_POST),
    "moderation.propose": (lambda w, ids: f"/t/{w.thread_a.id}/vorschlagen", {}, MANAGERS_POST),
    "moderation.solution": (lambda w, ids: f"/t/{w.thread_a.id}/loesung", {"post_id": ""},
                            {**MANAGERS_POST, "member": 302}),
    "moderation.hide": (lambda w, ids: f"/p/{ids['post']}/ausblenden", {"hide_reason": "Werbung"}, MANAGERS_POST),
    "moderation.unhide": (lambda w, ids: f"/p/{ids['post']}/einblenden", {}, MANAGERS_POST),
    "moderation.move": (lambda w, ids: f"/t/{w.thread_a.id}/verschieben", {"board_id": "2"},  # its own board
                        {**MANAGERS, "manager": 400}),
    "moderation.merge": (lambda w, ids: f"/t/{w.thread_a.id}/zusammenfuehren",
                         {"target_thread_id": "2"}, {**MANAGERS, "manager": 400}),  # cluster B's thread
    "moderation.split": (lambda w, ids: f"/p/{ids['post']}/abtrennen", {"split_title": "Abgetrennt"}, MANAGERS_POST),
    "moderation.delete": (lambda w, ids: f"/p/{ids['post']}/entfernen", {"delete_reason": "Doppelt"}, MANAGERS_POST),
    "moderation.decide": (lambda w, ids: f"/vorschlaege/{_proposal(w)}/entscheidung", {"entscheidung": "ja"},
                          {**READERS, "member": 302, "manager": 302}),
}


def _reply(w) -> int:
    return factories.reply(w.thread_a, w.member, "Antwort von Mia").id


def _marked(w) -> int:
    best_practice.set_best_practice(w.manager, w.thread_a, True)
    return w.thread_a.id


# (method, documented path, concrete path, JSON body, anonymous, outsider, member, manager, admin)
API_MATRIX = [
    ("POST", "/threads/{thread_id}/lock", lambda w: f"/threads/{w.thread_a.id}/lock", {"reason": "Ruhe"},
     (401, 404, 403, 200, 404)),
    ("POST", "/threads/{thread_id}/unlock", lambda w: f"/threads/{w.thread_a.id}/unlock", None,
     (401, 404, 403, 200, 404)),
    ("POST", "/threads/{thread_id}/pin", lambda w: f"/threads/{w.thread_a.id}/pin", None, (401, 404, 403, 200, 404)),
    ("POST", "/threads/{thread_id}/unpin", lambda w: f"/threads/{w.thread_a.id}/unpin", None,
     (401, 404, 403, 200, 404)),
    ("POST", "/threads/{thread_id}/move", lambda w: f"/threads/{w.thread_a.id}/move", {"board_id": 2},
     (401, 404, 403, 400, 404)),
    ("PATCH", "/threads/{thread_id}", lambda w: f"/threads/{w.thread_a.id}", {"title": "Neu"},
     (401, 404, 403, 200, 404)),
    ("POST", "/threads/{thread_id}/merge", lambda w: f"/threads/{w.thread_a.id}/merge", {"target_thread_id": 2},
     (401, 404, 403, 400, 404)),
    ("POST", "/posts/{post_id}/split", lambda w: f"/posts/{_reply(w)}/split", {"title": "Neu"},
     (401, 404, 403, 201, 404)),
    ("POST", "/threads/{thread_id}/solution", lambda w: f"/threads/{w.thread_a.id}/solution", {"post_id": None},
     (401, 404, 200, 200, 404)),
    ("POST", "/threads/{thread_id}/best-practice", lambda w: f"/threads/{w.thread_a.id}/best-practice", None,
     (401, 404, 403, 200, 404)),
    ("DELETE", "/threads/{thread_id}/best-practice", lambda w: f"/threads/{w.thread_a.id}/best-practice", None,
     (401, 404, 403, 200, 404)),
    ("POST", "/threads/{thread_id}/best-practice-proposals", lambda w: f"/threads/{_marked(w)}/best-practice-proposals",
     None, (401, 404, 403, 201, 404)),
    ("POST", "/best-practice-proposals/{proposal_id}/consent",
     lambda w: f"/best-practice-proposals/{_proposal(w)}/consent", {"agree": True}, (401, 404, 200, 409, 404)),
    ("POST", "/posts/{post_id}/hide", lambda w: f"/posts/{_reply(w)}/hide", {"reason": "Werbung"},
     (401, 404, 403, 200, 404)),
    ("POST", "/posts/{post_id}/unhide", lambda w: f"/posts/{_reply(w)}/unhide", None, (401, 404, 403, 200, 404)),
    ("POST", "/posts/{post_id}/reports", lambda w: f"/posts/{_reply(w)}/reports", {"reason": "spam"},
     (401, 404, 403, 201, 404)),
    ("GET", "/clusters/{slug}/reports", lambda w: f"/clusters/{w.cluster_a.slug}/reports?state=open", None,
     (401, 404, 403, 200, 403)),
    ("POST", "/reports/{report_id}/resolve",
     lambda w: f"/reports/{reports.create_report(w.manager, db.session.get(Post, _reply(w)), 'spam').id}/resolve",
     {"action": "keep", "note": ""}, (401, 404, 404, 200, 404)),
    ("GET", "/clusters/{slug}/modlog", lambda w: f"/clusters/{w.cluster_a.slug}/modlog", None,
     (401, 404, 403, 200, 200)),
]


@pytest.mark.parametrize("method,template,path,body,expected", API_MATRIX,
                         ids=[f"{m[0]} {m[1]}" for m in API_MATRIX])
def test_manager_of_another_cluster_gets_404_everywhere(client, world, api_token, method, template, path, body,
                                                        expected):
    response = client.open(PREFIX + path(world), method=method, json=body, headers=api_token(world.manager_b))
    assert response.status_code == 404, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"]["code"] == "not_found"


def test_matrix_ids_are_stable(world):
    """The rows above hard-code board 2 (cluster A's board) and thread 2 (cluster B's thread)."""
    assert world.board_a.id == 2 and world.thread_b.id == 2

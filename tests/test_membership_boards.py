"""Boards: a cluster's managers (and admins for the platform-wide boards) create, rename,
describe, reorder and archive; an archived board takes no new threads and no replies."""
from __future__ import annotations

import pytest

from forum.errors import NotAllowedError
from forum.extensions import db
from forum.models import Board, ModerationLogEntry
from forum.services import posting
from tests.test_openapi import PREFIX, spec_checked_client  # noqa: F401  (autouse fixture)


def _boards(world, rest=""):
    return f"/c/{world.cluster_a.slug}/verwaltung/bretter{rest}"


def _order(cluster_id):
    return [b.name for b in db.session.query(Board).filter_by(cluster_id=cluster_id).order_by(Board.position, Board.id)]


def test_manager_creates_renames_describes_and_reorders_boards(client, world, login):
    login(world.manager)
    client.post(_boards(world), data={"name": "Nachfolge regeln", "description": "Übergabe im Betrieb"})
    assert _order(world.cluster_a.id) == ["Nachwuchs gewinnen", "Nachfolge regeln"]
    new = db.session.query(Board).filter_by(name="Nachfolge regeln").one()
    client.post(_boards(world, f"/{new.id}"), data={"name": "Nachfolge & Übergabe", "description": "Neu beschrieben"})
    client.post(_boards(world, f"/{new.id}/hoch"))
    db.session.expire_all()
    assert _order(world.cluster_a.id) == ["Nachfolge & Übergabe", "Nachwuchs gewinnen"]
    assert db.session.get(Board, new.id).description == "Neu beschrieben"
    assert {"board.create", "board.edit", "board.move"} <= {e.action for e in db.session.query(ModerationLogEntry)}
    duplicate = client.post(_boards(world), data={"name": "nachwuchs gewinnen"})
    assert duplicate.status_code == 400 and "gibt es hier schon" in duplicate.get_data(as_text=True)
    empty = client.post(_boards(world, f"/{new.id}"), data={"name": ""})
    assert empty.status_code == 400 and "Der Name darf nicht leer sein." in empty.get_data(as_text=True)


def test_an_archived_board_is_read_only(client, world, login, api_token):
    login(world.manager)
    client.post(_boards(world, f"/{world.board_a.id}/archivieren"))
    login(world.member)
    assert client.get(f"/t/{world.thread_a.id}").status_code == 200
    refused = client.post(f"/t/{world.thread_a.id}/antworten", data={"body": "Noch was"})
    assert refused.status_code in (400, 403) and "archiviert" in refused.get_data(as_text=True)
    api = client.post(f"{PREFIX}/threads/{world.thread_a.id}/posts", json={"body": "x"},
                      headers=api_token(world.member))
    assert api.status_code == 403 and "archiviert" in api.get_json()["error"]["message"]
    new = client.post(f"{PREFIX}/boards/{world.board_a.id}/threads", json={"title": "T", "body": "B"},
                      headers=api_token(world.member))
    assert new.status_code == 403
    with pytest.raises(NotAllowedError):
        posting.reply(world.manager, world.thread_a, "Auch Manager nicht")
    login(world.manager)
    client.post(_boards(world, f"/{world.board_a.id}/oeffnen"))
    assert posting.reply(world.member, world.thread_a, "Wieder offen").id


@pytest.mark.parametrize("role", ["member", "outsider", "manager_b"])
def test_others_cannot_touch_a_clusters_boards(client, world, login, role):
    login(getattr(world, role))
    assert client.post(_boards(world), data={"name": "Fremd"}).status_code == 404
    assert client.post(_boards(world, f"/{world.board_a.id}/archivieren")).status_code == 404
    assert client.post(_boards(world, f"/{world.board_a.id}"), data={"name": "Gekapert"}).status_code == 404
    assert db.session.get(Board, world.board_a.id).name == "Nachwuchs gewinnen"


def test_a_manager_cannot_reach_another_clusters_board_through_their_own_cluster(client, world, login):
    login(world.manager)
    assert client.get(_boards(world, f"/{world.board_b.id}")).status_code == 404
    assert client.post(_boards(world, f"/{world.board_b.id}/archivieren")).status_code == 404
    assert client.post(_boards(world, f"/{world.platform_board.id}/archivieren")).status_code == 404
    assert not db.session.get(Board, world.board_b.id).is_archived


def test_admin_manages_the_platform_wide_boards(client, world, login):
    login(world.admin)
    client.post("/admin/bretter", data={"name": "Best Practice", "description": "Das Beste aus allen Clustern"})
    assert _order(None) == ["Cluster-übergreifender Austausch", "Best Practice"]
    best = db.session.query(Board).filter_by(name="Best Practice").one()
    client.post(f"/admin/bretter/{best.id}/hoch")
    client.post(f"/admin/bretter/{best.id}", data={"name": "Gute Praxis", "description": ""})
    client.post(f"/admin/bretter/{best.id}/archivieren")
    db.session.expire_all()
    assert _order(None) == ["Gute Praxis", "Cluster-übergreifender Austausch"]
    assert db.session.get(Board, best.id).is_archived
    assert client.get(f"/admin/bretter/{world.board_a.id}").status_code == 404  # a cluster's board is not platform-wide
    login(world.manager)
    assert client.post("/admin/bretter", data={"name": "Nope"}).status_code == 404

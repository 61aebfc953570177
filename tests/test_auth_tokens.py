"""Bearer tokens decide who calls the API, whatever session cookie the client also sends."""
from __future__ import annotations

from tests import factories


def _token(client, user):
    response = client.post("/api/v1/tokens", json={"username": user.username, "password": factories.PASSWORD})
    assert response.status_code == 201
    return response.get_json()["token"]


def test_logging_out_everywhere_ends_the_tokens_too(world, client, login):
    """The web's log-out ends every session "auf allen Geräten" — API tokens included (issue 15,
    point 2; tests/test_token_lifetime.py has the other events)."""
    token = _token(client, world.member)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    login(world.member)
    client.post("/logout")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_token_wins_over_a_session_of_someone_else(world, client, login):
    token = _token(client, world.outsider)
    login(world.member)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.get_json()["username"] == world.outsider.username
    assert client.get(f"/api/v1/threads/{world.thread_a.id}",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_invalid_token_does_not_fall_back_to_the_session(world, client, login):
    login(world.member)
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer falsch"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_of_a_suspended_account_stops_working(world, client, db):
    token = _token(client, world.member)
    from forum.models import utcnow
    world.member.suspended_at = utcnow()
    db.session.commit()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401

"""Log-in, log-out, remember-me, password change and reset, profile editing, CSRF."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.models import Post, Thread, User
from forum.services import accounts
from tests import factories
from tests.conftest import csrf_token


def test_log_in_and_out(world, client):
    response = client.post("/login", data={"login": world.member.username, "password": factories.PASSWORD})
    assert response.status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert "Willkommen zurück, Mia Member!" in html and "Guten Tag, Mia Member" in html
    assert client.get_cookie("remember_token", domain="forum.test") is None
    response = client.post("/logout")
    assert response.status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert "Sie sind abgemeldet – auf allen Geräten." in html and "Innovationscluster Handwerk NRW" in html


def test_log_in_with_email_and_next_target(world, client):
    response = client.post(f"/login?next=/t/{world.thread_a.id}",
                           data={"login": world.member.email, "password": factories.PASSWORD})
    assert response.headers["Location"].endswith(f"/t/{world.thread_a.id}")
    response = client.post("/logout")
    response = client.post("/login?next=//evil.example",
                           data={"login": world.member.username, "password": factories.PASSWORD})
    assert "evil" not in response.headers["Location"]


def test_remember_me_sets_a_lasting_cookie(world, client):
    client.post("/login", data={"login": world.member.username, "password": factories.PASSWORD, "remember": "y"})
    cookie = client.get_cookie("remember_token", domain="forum.test")
    assert cookie is not None and cookie.expires is not None
    client.post("/logout")
    assert client.get_cookie("remember_token", domain="forum.test") is None


def test_logout_ends_remember_me_in_this_browser(world, client):
    client.post("/login", data={"login": world.member.username, "password": factories.PASSWORD, "remember": "y"})
    client.delete_cookie("session", domain="forum.test")  # the browser restarts: remember-me signs in again
    assert client.get("/konto").status_code == 200
    client.post("/logout")
    client.delete_cookie("session", domain="forum.test")  # and after log-out it no longer does
    response = client.get("/konto")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_logout_makes_a_copied_remember_me_cookie_worthless(world, app):
    laptop, thief = app.test_client(), app.test_client()
    laptop.post("/login", data={"login": world.member.username, "password": factories.PASSWORD, "remember": "y"})
    stolen = laptop.get_cookie("remember_token", domain="forum.test").value
    thief.set_cookie("remember_token", stolen, domain="forum.test")
    assert thief.get("/konto").status_code == 200  # the copy works while the account is signed in
    laptop.post("/logout")
    thief.delete_cookie("session", domain="forum.test")
    response = thief.get("/konto")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_proxy_hops_make_rate_limits_count_the_real_client(world):
    from forum import create_app

    behind_nginx = create_app({"TESTING": True, "PROXY_HOPS": 1,
                               "SQLALCHEMY_DATABASE_URI": db.engine.url.render_as_string(hide_password=False),
                               "SECRET_KEY": "x"})

    @behind_nginx.get("/_whoami")
    def whoami():
        from flask import request
        return request.remote_addr or ""

    client = behind_nginx.test_client()
    answer = client.get("/_whoami", headers={"X-Forwarded-For": "203.0.113.7"},
                        environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert answer.get_data(as_text=True) == "203.0.113.7"
    spoofed = client.get("/_whoami", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"},
                         environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert spoofed.get_data(as_text=True) == "203.0.113.7"  # only the proxy's own entry is trusted


def test_wrong_password_gives_german_message(world, client):
    response = client.post("/login", data={"login": world.member.username, "password": "falsch-falsch"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and '<html lang="de">' in html
    assert "Benutzername oder Passwort stimmen nicht" in html
    response = client.post("/login", data={"login": "", "password": ""})
    html = response.get_data(as_text=True)
    assert "Bitte geben Sie Ihren Benutzernamen ein." in html and 'aria-invalid="true"' in html


def test_login_form_has_labels_for_every_input(client, world):
    html = client.get("/login").get_data(as_text=True)
    for field_id in ("login", "password", "remember"):
        assert f'for="{field_id}"' in html and f'id="{field_id}"' in html
    assert 'autocomplete="current-password"' in html


def test_password_change(world, login, client):
    login(world.member)
    response = client.post("/konto/passwort", data={"current_password": "falsch", "password": "ganz-neues-passwort",
                                                    "confirm": "ganz-neues-passwort"})
    assert "Das aktuelle Passwort stimmt nicht." in response.get_data(as_text=True)
    response = client.post("/konto/passwort", data={"current_password": factories.PASSWORD,
                                                    "password": "ganz-neues-passwort", "confirm": "anders"})
    assert "stimmen nicht überein" in response.get_data(as_text=True)
    response = client.post("/konto/passwort", data={"current_password": factories.PASSWORD, "password": "kurz",
                                                    "confirm": "kurz"})
    assert "mindestens 10 Zeichen" in response.get_data(as_text=True)
    response = client.post("/konto/passwort", data={"current_password": factories.PASSWORD,
                                                    "password": "ganz-neues-passwort",
                                                    "confirm": "ganz-neues-passwort"},
                           follow_redirects=True)
    assert "Ihr Passwort ist geändert." in response.get_data(as_text=True)
    client.post("/logout")
    assert accounts.authenticate(world.member.username, "ganz-neues-passwort") is not None
    assert accounts.authenticate(world.member.username, factories.PASSWORD) is None


def test_profile_edit(world, login, client):
    login(world.member)
    html = client.get("/konto").get_data(as_text=True)
    assert 'value="Tischlerei Member"' in html and 'for="display_name"' in html
    response = client.post("/konto", data={"display_name": "Mia Meister", "email": "mia@example.org",
                                           "company": "Tischlerei Meister", "trade": "Tischlerin", "region": "Münster",
                                           "locale": "de"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Ihr Profil ist gespeichert." in html and "Tischlerei Meister" in html and "Münster" in html
    assert db.session.get(User, world.member.id).display_name == "Mia Meister"


def test_profile_edit_rejects_bad_input_in_german(world, login, client):
    login(world.member)
    response = client.post("/konto", data={"display_name": "  ", "email": world.manager.email, "locale": "de"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Der Anzeigename darf nicht leer sein." in html
    assert db.session.get(User, world.member.id).display_name == "Mia Member"
    # the address is changed on its own page, with the password and a link (issue 15, point 11)
    client.post("/konto", data={"display_name": "Mia", "email": world.manager.email, "locale": "de"})
    assert db.session.get(User, world.member.id).email == world.member.email
    response = client.post("/konto/email", data={"email": world.manager.email, "password": factories.PASSWORD})
    assert "Für diese E-Mail-Adresse gibt es schon ein Konto." in response.get_data(as_text=True)


def test_profile_shows_shared_clusters_and_hides_strangers(world, login, client):
    login(world.member)
    html = client.get(f"/u/{world.manager.username}").get_data(as_text=True)
    assert world.manager.display_name in html and world.cluster_a.name in html
    assert client.get(f"/u/{world.outsider.username}").status_code == 404
    assert client.get("/u/niemand").status_code == 404


def test_password_reset_flow(world, client, caplog):
    response = client.post("/passwort-vergessen", data={"login": world.member.email}, follow_redirects=True)
    assert "ist ein Link für ein neues Passwort unterwegs" in response.get_data(as_text=True)
    token = accounts.make_reset_token(world.member)
    html = client.get(f"/passwort-neu/{token}").get_data(as_text=True)
    assert "Neues Passwort festlegen" in html and 'for="password"' in html and 'for="confirm"' in html
    response = client.post(f"/passwort-neu/{token}", data={"password": "kurz", "confirm": "kurz"})
    assert "Mindestens 10 Zeichen." in response.get_data(as_text=True)
    response = client.post(f"/passwort-neu/{token}",
                           data={"password": "neues-passwort-1", "confirm": "neues-passwort-2"})
    assert "stimmen nicht überein" in response.get_data(as_text=True)
    response = client.post(f"/passwort-neu/{token}",
                           data={"password": "neues-passwort-1", "confirm": "neues-passwort-1"},
                           follow_redirects=True)
    assert "Ihr neues Passwort gilt." in response.get_data(as_text=True)
    assert accounts.authenticate(world.member.username, "neues-passwort-1") is not None
    response = client.get(f"/passwort-neu/{token}", follow_redirects=True)
    assert "Dieser Link ist abgelaufen oder wurde schon benutzt." in response.get_data(as_text=True)
    response = client.get("/passwort-neu/kaputt", follow_redirects=True)
    assert "Dieser Link ist abgelaufen" in response.get_data(as_text=True)


def test_reset_request_says_the_same_for_unknown_accounts(world, client):
    response = client.post("/passwort-vergessen", data={"login": "niemand@example.org"}, follow_redirects=True)
    assert "ist ein Link für ein neues Passwort unterwegs" in response.get_data(as_text=True)


# -- CSRF -----------------------------------------------------------------------------------

@pytest.fixture
def csrf_client(app, client):
    """The app with CSRF protection switched on, as in production."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield client
    app.config["WTF_CSRF_ENABLED"] = False


def _csrf_login(client, user):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"login": user.username, "password": factories.PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def _counts():
    return (db.session.scalar(select(func.count()).select_from(Thread)),
            db.session.scalar(select(func.count()).select_from(Post)))


def test_post_without_csrf_token_gets_german_error_and_saves_nothing(world, csrf_client):
    before = _counts()
    response = csrf_client.post("/login", data={"login": world.member.username, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "Das Formular ist abgelaufen oder unvollständig." in response.get_data(as_text=True)
    _csrf_login(csrf_client, world.member)
    for url, data in ((f"/b/{world.board_a.id}/neu", {"title": "Ohne Token", "body": "Text"}),
                      (f"/t/{world.thread_a.id}/antworten", {"body": "Ohne Token"}),
                      (f"/t/{world.thread_a.id}/antworten", {"body": "Falsches Token", "csrf_token": "falsch"})):
        response = csrf_client.post(url, data=data)
        html = response.get_data(as_text=True)
        assert response.status_code == 400, url
        assert '<html lang="de">' in html and "Das Formular ist abgelaufen oder unvollständig." in html
        assert 'href="/"' in html
    assert _counts() == before
    response = csrf_client.post("/vorschau", data={"body": "**x**"})
    assert response.status_code == 400


def test_post_with_csrf_token_works(world, csrf_client):
    _csrf_login(csrf_client, world.member)
    html = csrf_client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    response = csrf_client.post(f"/t/{world.thread_a.id}/antworten",
                                data={"body": "Mit Token", "csrf_token": csrf_token(html)})
    assert response.status_code == 302
    meta = csrf_token(html.replace('name="csrf_token" type="hidden"', "x"))
    preview = csrf_client.post("/vorschau", data={"body": "**fett**"}, headers={"X-CSRFToken": meta})
    assert preview.status_code == 200 and "<strong>fett</strong>" in preview.get_data(as_text=True)

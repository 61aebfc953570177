"""Accounts: creation rules, log-in, argon2 re-hashing, sessions ended by a new password, CLI."""
from __future__ import annotations

import pytest

from forum.errors import ConflictError, ValidationError
from forum.models import User, utcnow
from forum.services import accounts
from tests import factories


def test_log_in_by_username_or_email_case_insensitively(world):
    assert accounts.authenticate("MIA.MEMBER", factories.PASSWORD).id == world.member.id
    assert accounts.authenticate("Mia.Member@Example.org", factories.PASSWORD).id == world.member.id
    assert accounts.authenticate("mia.member", "falsch") is None
    assert accounts.authenticate("niemand", factories.PASSWORD) is None


def test_suspended_account_cannot_log_in(world, db):
    world.member.suspended_at = utcnow()
    db.session.commit()
    assert accounts.authenticate("mia.member", factories.PASSWORD) is None


def test_password_hash_is_argon2id_and_upgraded_when_parameters_change(world, app, db):
    assert world.member.password_hash.startswith("$argon2id$")
    old = world.member.password_hash
    app.config["ARGON2_TIME_COST"] = 2
    assert accounts.authenticate("mia.member", factories.PASSWORD) is not None
    db.session.refresh(world.member)
    assert world.member.password_hash != old and "t=2" in world.member.password_hash


def test_new_password_ends_other_sessions(world):
    session_id = world.member.get_id()
    accounts.set_password(world.member, "ein-anderes-passwort")
    assert accounts.load_session_user(session_id) is None
    assert accounts.load_session_user(world.member.get_id()).id == world.member.id


@pytest.mark.parametrize("username", ["ab", "Groß", "mit leerzeichen", "-start", "ende.", "a" * 41, ""])
def test_invalid_usernames_are_refused(app, username):
    with pytest.raises(ValidationError):
        accounts.create_user(username, "x@example.org", "lang-genug-123")


def test_duplicate_username_and_email_are_conflicts(world):
    with pytest.raises(ConflictError):
        accounts.create_user("mia.member", "neu@example.org", "lang-genug-123")
    with pytest.raises(ConflictError):
        accounts.create_user("mia2", "MIA.MEMBER@example.org", "lang-genug-123")


def test_short_password_is_refused(app):
    with pytest.raises(ValidationError):
        accounts.create_user("kurz", "kurz@example.org", "zu-kurz")


def test_cli_create_user_reads_password_from_stdin(runner, db):
    result = runner.invoke(args=["forum", "create-user", "jana.jansen", "--email", "jana@example.org"],
                           input="sicheres-passwort\n")
    assert result.exit_code == 0, result.output
    user = db.session.query(User).filter_by(username="jana.jansen").one()
    assert not user.is_admin
    assert accounts.authenticate("jana.jansen", "sicheres-passwort") is not None


def test_cli_create_admin_and_set_password(runner, db):
    result = runner.invoke(args=["forum", "create-user", "chef", "--email", "chef@example.org",
                                 "--password", "chef-passwort-1", "--admin"])
    assert result.exit_code == 0, result.output
    assert db.session.query(User).filter_by(username="chef").one().is_admin
    result = runner.invoke(args=["forum", "set-password", "chef", "--password", "neues-passwort-2"])
    assert result.exit_code == 0, result.output
    assert accounts.authenticate("chef", "neues-passwort-2") is not None


def test_cli_reports_bad_input_with_exit_1(runner, world):
    result = runner.invoke(args=["forum", "create-user", "mia.member", "--email", "x@example.org", "--password",
                                 "lang-genug-123"])
    assert result.exit_code == 1 and "vergeben" in result.output
    result = runner.invoke(args=["forum", "set-password", "gibtsnicht", "--password", "lang-genug-123"])
    assert result.exit_code == 1 and "gibt es nicht" in result.output

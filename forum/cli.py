"""``flask forum …``, ``flask notifications …``, ``flask search …`` commands."""
from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from forum.errors import ServiceError
from forum.extensions import db

forum_cli = AppGroup("forum", help="Konten, Demo-Daten, Import und Export.")
search_cli = AppGroup("search", help="Suchindex neu aufbauen und prüfen.")


def init_app(app: Flask) -> None:
    app.cli.add_command(forum_cli)
    app.cli.add_command(search_cli)


def _fail(message: str) -> None:
    click.echo(f"Fehler: {message}", err=True)
    sys.exit(1)


@forum_cli.command("create-user")
@click.argument("username")
@click.option("--email", required=True, help="E-Mail-Adresse")
@click.option("--password", help="Passwort; ohne diese Option wird es von der Standardeingabe gelesen.")
@click.option("--display-name", default="", help="Anzeigename")
@click.option("--admin", is_flag=True, help="Plattform-Admin")
def create_user(username: str, email: str, password: str | None, display_name: str, admin: bool) -> None:
    """Legt ein Konto an."""
    from forum.services import accounts

    if password is None:
        password = _read_password()
    try:
        user = accounts.create_user(username, email, password, display_name=display_name, is_admin=admin)
    except ServiceError as error:
        db.session.rollback()
        _fail(error.message)
    click.echo(f"Konto „{user.username}“ angelegt{' (Plattform-Admin)' if user.is_admin else ''}.")


@forum_cli.command("set-password")
@click.argument("username")
@click.option("--password", help="Passwort; ohne diese Option wird es von der Standardeingabe gelesen.")
def set_password(username: str, password: str | None) -> None:
    """Setzt das Passwort eines Kontos."""
    from sqlalchemy import select

    from forum.models import User
    from forum.services import accounts

    user = db.session.scalar(select(User).where(User.username == username.lower()))
    if user is None:
        _fail(f"Ein Konto „{username}“ gibt es nicht.")
    if password is None:
        password = _read_password()
    try:
        accounts.set_password(user, password)
    except ServiceError as error:
        _fail(error.message)
    click.echo(f"Passwort für „{user.username}“ gesetzt.")


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Passwort", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")

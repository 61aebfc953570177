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
    app.cli.add_command(notifications_cli)


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


# -- corpus import and export (../shared/bench/FORMAT.md) ------------------------------------

@forum_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_corpus(path: str) -> None:
    """Importiert eine Korpus-Datei (JSON Lines); schon importierte Datensätze werden übersprungen."""
    import os
    import time

    from forum import corpus, corpus_import

    size = os.path.getsize(path)
    started = time.perf_counter()
    with corpus_import.Renderer(size) as renderer:   # its workers start while the file is checked
        try:
            with click.progressbar(length=size, label="Prüfen     ", file=sys.stderr) as bar:
                summary = corpus.check(path, bar.update)
        except corpus.CorpusError as error:
            db.session.rollback()
            _fail(str(error))
        with click.progressbar(length=size, label="Importieren", file=sys.stderr) as bar:
            result = corpus_import.run(path, summary, bar.update, renderer)
    seconds = time.perf_counter() - started
    labels = {"user": "Nutzer", "cluster": "Cluster", "board": "Bretter", "thread": "Themen", "post": "Beiträge"}
    click.echo("Neu: " + ", ".join(f"{result.created[k]} {v}" for k, v in labels.items()))
    if sum(result.skipped.values()):
        click.echo("Schon vorhanden, übersprungen: " + ", ".join(f"{result.skipped[k]} {v}" for k, v in labels.items()))
    rate = f" ({result.created['post'] / seconds:,.0f} Beiträge/s)".replace(",", ".") if result.created["post"] else ""
    click.echo(f"Dauer: {seconds:.1f} s{rate}")
    if result.created["post"]:
        from forum import jobs
        from forum.jobs.tasks import SEARCH_REINDEX

        jobs.enqueue(SEARCH_REINDEX, unique=True)
        db.session.commit()
        click.echo("Hinweis: Der Suchindex wird vom Worker neu aufgebaut („flask --app app forum worker“); "
                   "bis dahin findet die Suche die neuen Beiträge noch nicht.")


@forum_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def export_corpus(path: str) -> None:
    """Schreibt Nutzer, Cluster, Bretter, Themen und Beiträge als Korpus-Datei (JSON Lines)."""
    from forum import corpus_export

    try:
        with click.progressbar(length=corpus_export.thread_total(), label="Exportieren", file=sys.stderr) as bar:
            report = corpus_export.export(path, bar.update)
    except corpus_export.ExportError as error:
        _fail(str(error))
    counts = report.counts
    click.echo(f"Exportiert: {counts['user']} Nutzer, {counts['cluster']} Cluster, {counts['board']} Bretter, "
               f"{counts['thread']} Themen, {counts['post']} Beiträge → {path}")
    notes = {
        "platform_threads": "Themen im clusterübergreifenden Brett ausgelassen (das Format kennt es nicht)",
        "deleted_posts": "gelöschte Beiträge als Platzhalter",
        "hidden_posts": "ausgeblendete Beiträge als Platzhalter",
        "former_members": "Autoren ohne Mitgliedschaft als Mitglieder geführt",
        "shortened_titles": "Titel auf 120 Zeichen gekürzt",
        "dropped_tags": "Schlagwörter über drei je Thema ausgelassen",
        "empty_threads": "Themen ohne Beiträge ausgelassen",
    }
    for key, text in notes.items():
        if report.adapted[key]:
            click.echo(f"Hinweis: {report.adapted[key]} {text}.", err=True)


# -- backups (forum/backup.py) -----------------------------------------------------------------

@forum_cli.command("backup")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Eine frühere Sicherung in einem nicht leeren Ordner überschreiben.")
def backup_database(directory: str, force: bool) -> None:
    """Sichert die Datenbank in einen Ordner; das Forum darf dabei weiterlaufen."""
    from pathlib import Path

    from forum import backup

    try:
        manifest = backup.backup(Path(directory), force=force)
    except backup.BackupError as error:
        _fail(str(error))
    counts = manifest.counts
    click.echo(f"Gesichert: {counts['users']} Nutzer, {counts['threads']} Themen, {counts['posts']} Beiträge "
               f"({manifest.database}, Datenbankstand {manifest.alembic_revision or '–'}) → {directory}")


@forum_cli.command("restore")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--yes", is_flag=True, help="Nicht nachfragen, bevor die Datenbank überschrieben wird.")
def restore_database(directory: str, yes: bool) -> None:
    """Ersetzt die Datenbank durch eine Sicherung und baut den Suchindex neu auf."""
    from pathlib import Path

    from forum import backup

    try:
        manifest = backup.verify(Path(directory))
    except backup.BackupError as error:
        _fail(f"{error} Die Datenbank wurde nicht verändert.")
    counts = manifest.counts
    click.echo(f"Sicherung vom {manifest.created_at}: {counts['users']} Nutzer, {counts['threads']} Themen, "
               f"{counts['posts']} Beiträge ({manifest.database}, Datenbankstand {manifest.alembic_revision or '–'}).")
    if not yes and not click.confirm("Die aktuelle Datenbank wird dadurch vollständig ersetzt. Fortfahren?"):
        _fail("Abgebrochen; die Datenbank wurde nicht verändert.")
    try:
        with click.progressbar(length=counts["posts"], label="Suchindex  ", file=sys.stderr) as bar:
            restored = backup.restore(Path(directory), bar.update, verified=manifest)
    except backup.BackupError as error:
        _fail(str(error))
    click.echo(f"Wiederhergestellt: {restored.counts['users']} Nutzer, {restored.counts['threads']} Themen, "
               f"{restored.counts['posts']} Beiträge.")
    if restored.indexed is None:
        click.echo("Der Suchindex ist als veraltet markiert und wird vom Worker neu aufgebaut "
                   "(ein anderer Prozess schreibt gerade hinein).", err=True)
    else:
        click.echo(f"Suchindex neu aufgebaut: {restored.indexed} Beiträge.")


# -- search index ------------------------------------------------------------------------------

@search_cli.command("reindex")
def search_reindex() -> None:
    """Baut den Suchindex aus der Datenbank neu auf."""
    from forum.search import service

    total = service.indexable_count()
    try:
        with click.progressbar(length=total, label="Indexieren", file=sys.stderr) as bar:
            count = service.rebuild(bar.update)
    except RuntimeError as error:
        _fail(str(error))
    click.echo(f"Suchindex neu aufgebaut: {count} Beiträge.")


@search_cli.command("check")
def search_check() -> None:
    """Vergleicht Suchindex und Datenbank; Exit-Code 1, wenn sie voneinander abweichen."""
    from forum.search import service

    drift = service.check()
    if drift.clean:
        click.echo("Suchindex und Datenbank stimmen überein.")
        return
    def sample(ids: set[int]) -> str:
        shown = ", ".join(str(i) for i in sorted(ids)[:10])
        return shown + (" …" if len(ids) > 10 else "")
    click.echo("Suchindex und Datenbank weichen voneinander ab:", err=True)
    if drift.missing:
        click.echo(f"  {len(drift.missing)} Beiträge fehlen im Index (z. B. {sample(drift.missing)})", err=True)
    if drift.extra:
        click.echo(f"  {len(drift.extra)} Beiträge sind im Index, aber gelöscht, ausgeblendet oder nicht mehr "
                   f"vorhanden (z. B. {sample(drift.extra)})", err=True)
    if drift.moved:
        click.echo(f"  {len(drift.moved)} Beiträge stehen im Index unter einem anderen Brett "
                   f"(z. B. {sample(drift.moved)})", err=True)
    click.echo("Beheben mit: flask --app app search reindex", err=True)
    sys.exit(1)


# -- the worker (forum/jobs) -------------------------------------------------------------------

@forum_cli.command("worker")
@click.option("--once", is_flag=True, help="Einen Durchlauf machen, dann beenden (für cron und Tests).")
@click.option("--interval", default=2.0, show_default=True, help="Sekunden zwischen zwei Durchläufen.")
def worker(once: bool, interval: float) -> None:
    """Erledigt, was nicht in eine Anfrage gehört: Suchindex (Abgleich, Neuaufbau), Mails, Aufträge.

    Läuft ohne --once weiter, bis SIGTERM oder Strg-C kommt."""
    from forum.jobs.worker import Worker, summary

    runner = Worker(echo=click.echo)
    if once:
        click.echo(summary(runner.run_once()))
        return
    runner.run_forever(interval)


# -- demo data (CONTRACT.md: forum seed-demo) ------------------------------------------------

@forum_cli.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Nur anlegen, wenn die Datenbank noch leer ist (für „make run“).")
def seed_demo(if_empty: bool) -> None:
    """Legt zwei deutsche Demo-Cluster mit Brettern, Themen und Demo-Konten an (nur zum Ausprobieren)."""
    from flask import current_app

    from forum import demo

    if demo.exists():
        click.echo("Die Demo-Daten sind schon angelegt; es wurde nichts geändert.")
    elif if_empty and not demo.database_is_empty():
        click.echo("Die Datenbank enthält schon Daten – Demo-Daten werden nur in eine leere Datenbank geschrieben.")
        return
    else:
        try:
            seeded = demo.seed(current_app._get_current_object())
        except ServiceError as error:
            db.session.rollback()
            _fail(f"Demo-Daten konnten nicht angelegt werden: {error.message}")
        click.echo(f"Demo-Daten angelegt: {seeded.clusters} Cluster, {seeded.boards} Bretter, "
                   f"{seeded.threads} Themen, {seeded.posts} Beiträge.")
    click.echo(f"\nDemo-Zugänge (Passwort für alle: {demo.PASSWORD}):")
    for username, role in demo.LOGINS:
        click.echo(f"  {username:<14} {role}")
    click.echo("\nAchtung: Diese Konten und ihr Passwort sind öffentlich bekannt und nur zum Ausprobieren gedacht. "
               "Nicht auf einem Server verwenden, der aus dem Internet erreichbar ist.", err=True)


# -- notifications ----------------------------------------------------------------------------

notifications_cli = AppGroup("notifications", help="Benachrichtigungs-Mails versenden.")


@notifications_cli.command("send")
@click.option("--once", is_flag=True, help="Nur versenden, was fällig ist, dann beenden (für cron).")
@click.option("--interval", default=30.0, show_default=True, help="Sekunden zwischen zwei Durchläufen.")
def notifications_send(once: bool, interval: float) -> None:
    """Leert die Mail-Warteschlange; läuft ohne --once als Worker weiter."""
    from forum.services import mailer

    if once:
        click.echo(mailer.summary(mailer.run_once()))
        return
    mailer.run_forever(interval, echo=click.echo)

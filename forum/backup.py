"""``flask forum backup DIR`` and ``flask forum restore DIR``: the database in one folder.

A backup folder holds the database and ``manifest.json``: format version, time, database
kind, Alembic revision, counts of users, threads and posts, and the SHA-256 of each file.

- SQLite: ``forum.db``, a copy made with SQLite's online backup API (a consistent snapshot,
  while the forum keeps running), stored in rollback-journal mode so it is one file.
- PostgreSQL: ``forum.pgdump`` from ``pg_dump --format=custom`` (``pg_dump`` and
  ``pg_restore`` from the PATH). The counts come from the very snapshot pg_dump reads
  (``pg_export_snapshot``), so they always describe the dump.

The files are written under temporary names and the manifest last: a folder whose manifest
is missing is an unfinished backup, and restore refuses it.

``restore`` first checks everything it can without touching the database: the manifest, the
database kind, size and checksum of the file, the schema revision (it must be the one of the
current database, or, for an empty database, this program's newest), and that the file is
readable (SQLite ``quick_check`` and counts, ``pg_restore --list``). Only then does it mark
the search index stale (every new process would rebuild it should the restore be
interrupted), replace the database in one transaction (SQLite: the backup API into the live
file; PostgreSQL: ``pg_restore --clean --if-exists --no-owner --no-privileges
--single-transaction``) and rebuild the index, so search shows exactly the restored posts.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from forum.config import ROOT, private_file, private_folder
from forum.extensions import db

FORMAT = "clusterforum-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATA_FILES = {"sqlite": "forum.db", "postgresql": "forum.pgdump"}
COUNTED = ("users", "threads", "posts")
LOCK_WAIT = 60.0          # seconds a backup or restore waits for what another connection holds locked
RESTORE_APP = "clusterforum-restore"   # pg_restore's application_name, to find its server process


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, in German."""


@dataclasses.dataclass
class Manifest:
    database: str                    # "sqlite" or "postgresql"
    created_at: str                  # ISO 8601, UTC
    alembic_revision: str | None     # None: a schema not managed by migrations (tests)
    counts: dict[str, int]           # users, threads, posts
    files: dict[str, dict]           # name → {"sha256": …, "bytes": …}
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @property
    def data_file(self) -> str:
        return DATA_FILES[self.database]


@dataclasses.dataclass
class Restored:
    manifest: Manifest
    counts: dict[str, int]
    indexed: int | None              # posts in the rebuilt index; None: rebuilt at the next start


# -- backup -----------------------------------------------------------------------------------

def backup(directory: Path, force: bool = False) -> Manifest:
    """Writes a backup of the current database into ``directory`` (created if missing). A
    folder that is not empty is refused unless ``force``; then the files of an earlier backup
    are replaced and anything else in it is left alone."""
    kind = _kind()
    _prepare(directory, force)
    target = directory / DATA_FILES[kind]
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    private_file(partial)   # 0600 before a byte is written; sqlite3 and pg_dump keep the mode
    try:
        if kind == "sqlite":
            counts, revision = _backup_sqlite(partial)
        else:
            counts, revision = _backup_postgres(partial)
        _fsync(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    manifest = Manifest(
        database=kind, created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        alembic_revision=revision, counts=counts,
        files={target.name: {"sha256": _sha256(target), "bytes": target.stat().st_size}},
    )
    written = directory / (MANIFEST + ".partial")
    written.unlink(missing_ok=True)
    private_file(written)
    fields = dataclasses.asdict(manifest)
    ordered = {"format": fields.pop("format"), "format_version": fields.pop("format_version"), **fields}
    written.write_text(json.dumps(ordered, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _fsync(written)
    os.replace(written, directory / MANIFEST)
    _fsync(directory)
    return manifest


def _prepare(directory: Path, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise BackupError(_("„%(path)s“ ist kein Ordner.", path=directory))
    if directory.is_dir() and any(directory.iterdir()):
        if not force:
            raise BackupError(_("Der Ordner „%(path)s“ ist nicht leer. Bitte einen leeren Ordner angeben "
                                "oder mit --force eine frühere Sicherung darin überschreiben.", path=directory))
        (directory / MANIFEST).unlink(missing_ok=True)   # until the new one is written, the folder is no backup
    private_folder(directory)   # a backup holds everything the database does: the forum's user only


def _backup_sqlite(partial: Path) -> tuple[dict[str, int], str | None]:
    source_path = _sqlite_path()
    if not source_path.exists():
        raise BackupError(_("Die Datenbankdatei „%(path)s“ gibt es nicht.", path=source_path))
    source = sqlite3.connect(source_path, timeout=LOCK_WAIT)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)                       # one step: a consistent snapshot
        copy.execute("PRAGMA journal_mode=DELETE").close()   # one self-contained file
        return _describe(lambda sql: copy.execute(sql).fetchone()[0], _sqlite_has(copy, "alembic_version"))
    except sqlite3.Error as error:
        raise BackupError(_("Die Sicherung ist fehlgeschlagen: %(error)s", error=error)) from None
    finally:
        copy.close()
        source.close()


def _backup_postgres(partial: Path) -> tuple[dict[str, int], str | None]:
    pg_dump = _tool("pg_dump")
    uri, env = _pg_connection()
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            counts, revision = _describe(lambda sql: conn.exec_driver_sql(sql).scalar(),
                                         inspect(conn).has_table("alembic_version"))
            # pg_dump reads the snapshot this transaction exported, so dump and counts agree
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--lock-wait-timeout={LOCK_WAIT:.0f}s",
                  f"--file={partial}", f"--dbname={uri}"], env)
    return counts, revision


def _describe(scalar: Callable[[str], object], has_alembic: bool) -> tuple[dict[str, int], str | None]:
    counts = {table: int(scalar(f"SELECT count(*) FROM {table}")) for table in COUNTED}
    revision = scalar("SELECT version_num FROM alembic_version") if has_alembic else None
    return counts, revision


# -- restore ----------------------------------------------------------------------------------

def verify(directory: Path) -> Manifest:
    """The manifest of the backup in ``directory`` once everything checks out; otherwise
    BackupError. Reads only the backup and the current database's schema revision."""
    manifest = _read_manifest(directory)
    kind = _kind()
    if manifest.database != kind:
        raise BackupError(_("Die Sicherung stammt aus einer %(backup)s-Datenbank, das Forum nutzt %(current)s.",
                            backup=_KIND_NAMES[manifest.database], current=_KIND_NAMES[kind]))
    path = directory / manifest.data_file
    expected = manifest.files.get(manifest.data_file)
    if not isinstance(expected, dict) or not path.is_file():
        raise BackupError(_("In der Sicherung fehlt die Datei „%(name)s“.", name=manifest.data_file))
    if path.stat().st_size != expected.get("bytes") or _sha256(path) != expected.get("sha256"):
        raise BackupError(_("Die Datei „%(name)s“ ist beschädigt oder wurde verändert "
                            "(Größe oder Prüfsumme stimmt nicht mit manifest.json überein).", name=manifest.data_file))
    _check_revision(manifest.alembic_revision)
    if kind == "sqlite":
        _verify_sqlite(path, manifest)
    else:
        _run([_tool("pg_restore"), "--list", str(path)], dict(os.environ))
    return manifest


def restore(directory: Path, progress: Callable[[int], None] | None = None,
            verified: Manifest | None = None) -> Restored:
    """Replaces the current database with the backup in ``directory`` (checked with
    ``verify`` unless that was just done) and rebuilds the search index from it."""
    from forum.search import service

    manifest = verified or verify(directory)
    path = directory / manifest.data_file
    db.session.remove()
    db.engine.dispose()                  # no connection of ours holds a table or a stale page
    if manifest.database == "sqlite":
        _wait_for_sqlite_writers()
    mark_stale = getattr(service.backend(), "mark_stale", None)
    if mark_stale is not None:
        mark_stale()                     # interrupted from here on, every new process rebuilds it
    try:
        if manifest.database == "sqlite":
            _restore_sqlite(path)
        else:
            _restore_postgres(path)
    except BackupError:                  # nothing changed: the index is good again once rebuilt
        db.engine.dispose()
        with contextlib.suppress(Exception):   # if not now, then at the next start (still stale)
            service.rebuild()
        raise
    db.engine.dispose()
    try:
        indexed = service.rebuild(progress)
    except RuntimeError:                 # another process held the index too long: next start rebuilds
        indexed = None
    with db.engine.connect() as conn:
        counts, _revision = _describe(lambda sql: conn.exec_driver_sql(sql).scalar(), False)
    if counts != manifest.counts:
        raise BackupError(_("Die Datenbank wurde wiederhergestellt, aber ihre Zahlen weichen von manifest.json ab "
                            "(%(found)s statt %(expected)s).", found=counts, expected=manifest.counts))
    return Restored(manifest, counts, indexed)


_KIND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _read_manifest(directory: Path) -> Manifest:
    if not directory.is_dir():
        raise BackupError(_("Den Sicherungsordner „%(path)s“ gibt es nicht.", path=directory))
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupError(_("In „%(path)s“ fehlt manifest.json – das ist keine (vollständige) Sicherung.",
                            path=directory))
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(_("manifest.json ist beschädigt: %(error)s", error=error)) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BackupError(_("manifest.json beschreibt keine Sicherung des Clusterforums."))
    if raw.get("format_version") != FORMAT_VERSION:
        raise BackupError(_("Die Sicherung hat das Format %(found)s; dieses Programm liest Format %(known)s.",
                            found=raw.get("format_version"), known=FORMAT_VERSION))
    try:
        manifest = Manifest(**raw)
    except TypeError:
        raise BackupError(_("manifest.json ist unvollständig oder enthält unbekannte Angaben.")) from None
    counts = manifest.counts
    if (manifest.database not in DATA_FILES or not isinstance(manifest.files, dict)
            or not isinstance(counts, dict) or set(counts) != set(COUNTED)
            or not all(isinstance(n, int) for n in counts.values())
            or not (manifest.alembic_revision is None or isinstance(manifest.alembic_revision, str))):
        raise BackupError(_("manifest.json ist unvollständig oder enthält ungültige Angaben."))
    return manifest


def _check_revision(revision: str | None) -> None:
    """The backup's schema must be the current database's (the usual case: same version of
    the program), or this program's newest when the database is still empty (a new server).
    An older backup is restored with the program version that wrote it, then upgraded."""
    with db.engine.connect() as conn:
        inspector = inspect(conn)
        empty = not inspector.get_table_names()
        current = (conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
                   if inspector.has_table("alembic_version") else None)
    expected = _head_revision() if empty else current
    if revision != expected:
        raise BackupError(_("Die Sicherung hat den Datenbankstand %(backup)s, die Datenbank den Stand %(current)s; "
                            "zurückspielen lässt sich nur derselbe Stand. Bitte die Sicherung mit der Programmversion "
                            "wiederherstellen, die sie geschrieben hat, und danach „flask --app app db upgrade“ "
                            "ausführen – oder, wenn die Datenbank nur noch nicht aktualisiert ist, zuerst das.",
                            backup=revision or "–", current=expected or "–"))


def _head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(ROOT / "migrations")).get_current_head()


def _verify_sqlite(path: Path, manifest: Manifest) -> None:
    try:
        copy = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            if copy.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check")
            counts, revision = _describe(lambda sql: copy.execute(sql).fetchone()[0],
                                         _sqlite_has(copy, "alembic_version"))
        finally:
            copy.close()
    except sqlite3.Error:
        raise BackupError(_("„%(name)s“ ist keine lesbare SQLite-Datenbank des Forums.", name=path.name)) from None
    if counts != manifest.counts or revision != manifest.alembic_revision:
        raise BackupError(_("„%(name)s“ passt nicht zu manifest.json (Zahlen oder Datenbankstand weichen ab).",
                            name=path.name))


def _wait_for_sqlite_writers() -> None:
    """The backup API would wait for ever for a writer; one stuck in its transaction for
    LOCK_WAIT seconds is reported instead, before anything has changed."""
    probe = sqlite3.connect(_sqlite_path(), timeout=LOCK_WAIT)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.rollback()
    except sqlite3.OperationalError:
        raise BackupError(_("Eine andere Verbindung hält die Datenbank länger als %(seconds)s s gesperrt; bitte das "
                            "Forum anhalten und erneut versuchen. Die Datenbank wurde nicht verändert.",
                            seconds=f"{LOCK_WAIT:.0f}")) from None
    finally:
        probe.close()


def _restore_sqlite(path: Path) -> None:
    """SQLite's backup API copies the backup into the live file in one write transaction:
    open connections of a running forum see the restored data with their next query (a
    replaced file they would not see at all), and an interrupted copy changes nothing."""
    source = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    target = sqlite3.connect(_sqlite_path(), timeout=LOCK_WAIT)
    try:
        source.backup(target)
    except sqlite3.Error as error:
        raise BackupError(_("Das Zurückspielen ist fehlgeschlagen (%(error)s); die Datenbank wurde nicht verändert.",
                            error=error)) from None
    finally:
        target.close()
        source.close()


def _restore_postgres(path: Path) -> None:
    """One transaction: on any error nothing changes. A dump sets ``lock_timeout = 0`` itself,
    so a connection that keeps a table locked (idle in a transaction) would make pg_restore
    wait for ever; after LOCK_WAIT seconds on one lock its statement is cancelled instead."""
    uri, env = _pg_connection()
    env["PGAPPNAME"] = RESTORE_APP
    command = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
               "--single-transaction", "--exit-on-error", f"--dbname={uri}", str(path)]
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=output, text=True)
        blocked = False
        while process.poll() is None:
            try:
                process.wait(0.5)
            except subprocess.TimeoutExpired:
                blocked = blocked or _cancel_if_blocked()
        output.seek(0)
        detail = " / ".join(output.read().strip().splitlines()[-5:])
    if blocked:
        raise BackupError(_("Eine andere Verbindung hält Tabellen länger als %(seconds)s s gesperrt; bitte das Forum "
                            "anhalten und erneut versuchen. Die Datenbank wurde nicht verändert.",
                            seconds=f"{LOCK_WAIT:.0f}"))
    if process.returncode != 0:
        raise BackupError(_("„pg_restore“ ist fehlgeschlagen (Exit %(code)s): %(detail)s Die Datenbank wurde nicht "
                            "verändert (eine Transaktion).", code=process.returncode, detail=detail))


def _cancel_if_blocked() -> bool:
    with db.engine.connect() as conn:
        pids = conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = :app AND datname = current_database() "
            "AND wait_event_type = 'Lock' AND now() - query_start > make_interval(secs => :seconds)"
        ), {"app": RESTORE_APP, "seconds": LOCK_WAIT}).scalars().all()
        for pid in pids:
            conn.execute(text("SELECT pg_cancel_backend(:pid)"), {"pid": pid})
        conn.commit()
    return bool(pids)


# -- helpers ----------------------------------------------------------------------------------

def _kind() -> str:
    name = db.engine.url.get_backend_name()
    if name not in DATA_FILES:
        raise BackupError(_("Sicherungen gibt es nur für SQLite und PostgreSQL, nicht für „%(name)s“.", name=name))
    return name


def _sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(_("Eine SQLite-Datenbank im Arbeitsspeicher lässt sich nicht sichern."))
    return Path(database).resolve()


def _sqlite_has(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (table,)).fetchone() is not None


def _pg_connection() -> tuple[str, dict[str, str]]:
    """The SQLAlchemy URL as a libpq URI for pg_dump/pg_restore; the password goes into the
    environment (PGPASSWORD), never onto the command line, where ``ps`` would show it."""
    url: URL = db.engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(_("Das Programm „%(name)s“ wurde nicht gefunden. Bitte die PostgreSQL-Client-Programme "
                            "installieren (Debian/Ubuntu: apt install postgresql-client) und in den PATH aufnehmen; "
                            "ihre Version muss mindestens die des Servers sein.", name=name))
    return path


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise BackupError(_("„%(tool)s“ ist fehlgeschlagen (Exit %(code)s): %(detail)s",
                            tool=Path(command[0]).name, code=result.returncode, detail=" / ".join(detail)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)

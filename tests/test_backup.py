"""`forum backup DIR` and `forum restore DIR`: a round trip brings back the database and a
search index that matches it; a bad backup is refused before anything changes."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from forum import backup
from forum.models import Post, Thread, User
from forum.search import service
from forum.services import posting
from tests import factories


def _counts(db) -> dict[str, int]:
    return {"users": db.session.scalar(select(func.count(User.id))),
            "threads": db.session.scalar(select(func.count(Thread.id))),
            "posts": db.session.scalar(select(func.count(Post.id)))}


def _hits(username: str, word: str) -> int:
    from forum.extensions import db

    viewer = db.session.scalar(select(User).where(User.username == username))
    return service.search(viewer, service.Params(q=word)).total


@pytest.fixture
def backed_up(world, runner, db, tmp_path):
    """The world plus a reply with a word that exists only in the backup, backed up to a
    folder; returns (folder, id of that reply, counts at backup time)."""
    capsule = factories.reply(world.thread_a, world.member, "Die Zeitkapsel liegt im Keller der Tischlerei.")
    service.drain()
    folder = tmp_path / "sicherung"
    result = runner.invoke(args=["forum", "backup", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Gesichert: 6 Nutzer, 3 Themen, 4 Beiträge" in result.output
    return folder, capsule.id, _counts(db)


def _change_everything(world, db) -> int:
    """After the backup: the capsule reply is deleted, a new reply and a new account appear."""
    capsule = db.session.scalar(select(Post).where(Post.body_markdown.contains("Zeitkapsel")))
    posting.delete_post(world.member, capsule)
    late = factories.reply(world.thread_a, world.member, "Ein Nachzügler nach der Sicherung.")
    factories.user("nach.der.sicherung")
    service.drain()
    assert _hits("mia.member", "Zeitkapsel") == 0 and _hits("mia.member", "Nachzügler") == 1
    return late.id


def test_restore_brings_back_the_backed_up_state_and_its_search(backed_up, world, runner, db, app):
    folder, capsule_id, counts = backed_up
    _assert_manifest_describes(folder, counts, db)
    user_ids = {world.member.id}
    # a second connection, like a running worker's, open across the restore
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    worker = other.connect()
    worker.execute(text("SELECT count(*) FROM posts")).scalar()
    worker.commit()
    late_id = _change_everything(world, db)

    result = runner.invoke(args=["forum", "restore", "--yes", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Wiederhergestellt: 6 Nutzer, 3 Themen, 4 Beiträge." in result.output
    assert "Suchindex neu aufgebaut: 4 Beiträge." in result.output

    assert _counts(db) == counts
    assert db.session.get(Post, capsule_id).deleted_at is None
    assert db.session.get(Post, late_id) is None
    assert db.session.scalar(select(User).where(User.username == "nach.der.sicherung")) is None
    assert db.session.get(User, user_ids.pop()) is not None
    assert worker.execute(text("SELECT count(*) FROM posts")).scalar() == counts["posts"]
    worker.close()
    other.dispose()
    assert _hits("mia.member", "Zeitkapsel") == 1
    assert _hits("mia.member", "Nachzügler") == 0
    assert _hits("otto.outsider", "Zeitkapsel") == 0        # restored, but still only for its cluster
    check = runner.invoke(args=["search", "check"])
    assert check.exit_code == 0, check.output
    assert not (Path(app.config["SEARCH_DIR"]) / "STALE").exists()


def _assert_manifest_describes(folder: Path, counts: dict[str, int], db) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    kind = db.engine.url.get_backend_name()
    data_file = backup.DATA_FILES[kind]
    assert sorted(path.name for path in folder.iterdir()) == sorted(["manifest.json", data_file])
    assert manifest["format"] == "clusterforum-backup" and manifest["format_version"] == 1
    assert manifest["database"] == kind and manifest["counts"] == counts
    assert manifest["alembic_revision"] is None            # the test schema comes from create_all
    assert manifest["created_at"].endswith("+00:00")
    assert manifest["files"][data_file] == {"sha256": backup._sha256(folder / data_file),
                                            "bytes": (folder / data_file).stat().st_size}


def test_backup_reads_a_snapshot_while_another_transaction_writes(world, runner, db, app, tmp_path):
    service.drain()
    before = _counts(db)
    db.session.commit()
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with other.connect() as writer:
        writer.execute(text("UPDATE users SET display_name = 'Halb geschrieben' WHERE username = 'mia.member'"))
        writer.execute(text("DELETE FROM posts WHERE parent_id IS NOT NULL"))   # uncommitted, never in a backup
        result = runner.invoke(args=["forum", "backup", str(tmp_path / "b")])
        writer.rollback()
    other.dispose()
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["counts"] == before


def _break_manifest(folder: Path, **changes) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def _other_kind(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    other = "postgresql" if manifest["database"] == "sqlite" else "sqlite"
    _break_manifest(folder, database=other)


def _data_file(folder: Path) -> Path:
    return next(p for p in folder.iterdir() if p.name in backup.DATA_FILES.values())


def _flip_a_byte(folder: Path) -> None:
    data = _data_file(folder)
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))


BREAKAGES = {
    "manifest fehlt": (lambda folder: (folder / "manifest.json").unlink(), "fehlt manifest.json"),
    "manifest kaputt": (lambda folder: (folder / "manifest.json").write_text('{"format": "clusterforum-'),
                        "manifest.json ist beschädigt"),
    "datei verändert": (_flip_a_byte, "Prüfsumme"),
    "datei fehlt": (lambda folder: _data_file(folder).unlink(), "fehlt die Datei"),
    "andere datenbank": (_other_kind, "Datenbank, das Forum nutzt"),
    "anderer datenbankstand": (lambda folder: _break_manifest(folder, alembic_revision="0123456789ab"),
                               "Datenbankstand"),
    "neueres format": (lambda folder: _break_manifest(folder, format_version=2), "Format 2"),
    "zahlen fehlen": (lambda folder: _break_manifest(folder, counts={"users": 1}), "unvollständig"),
}


def test_a_bad_backup_is_refused_and_the_database_stays_untouched(backed_up, world, runner, db, app, tmp_path):
    """A backup is not written into a folder that holds something else, unless forced. One
    backup, spoilt in turn in each way of BREAKAGES (a copy each time): every restore
    ends with exit 1 and a reason, and the database and its index stay as they were."""
    folder, _capsule, _counts_then = backed_up
    refused = runner.invoke(args=["forum", "backup", str(folder)])
    assert refused.exit_code == 1 and "nicht leer" in refused.output and "--force" in refused.output
    (folder / "notiz.txt").write_text("bleibt")
    forced = runner.invoke(args=["forum", "backup", "--force", str(folder)])
    assert forced.exit_code == 0, forced.output
    assert (folder / "notiz.txt").read_text() == "bleibt"
    late_id = _change_everything(world, db)
    now = _counts(db)
    db.session.commit()
    for n, (breakage, (spoil, message)) in enumerate(BREAKAGES.items()):
        spoilt = tmp_path / f"verdorben-{n}"
        shutil.copytree(folder, spoilt)
        spoil(spoilt)
        result = runner.invoke(args=["forum", "restore", "--yes", str(spoilt)])
        assert result.exit_code == 1, (breakage, result.output)
        assert message in result.output and "nicht verändert" in result.output, (breakage, result.output)
    declined = runner.invoke(args=["forum", "restore", str(folder)], input="n\n")
    assert declined.exit_code == 1 and "Abgebrochen" in declined.output
    assert _counts(db) == now
    assert db.session.get(Post, late_id) is not None
    assert _hits("mia.member", "Nachzügler") == 1 and _hits("mia.member", "Zeitkapsel") == 0
    assert not (Path(app.config["SEARCH_DIR"]) / "STALE").exists()


def test_a_restore_blocked_by_a_stuck_transaction_gives_up_and_changes_nothing(backed_up, world, runner, db, app,
                                                                               monkeypatch):
    folder, _capsule, _counts_then = backed_up
    late_id = _change_everything(world, db)
    now = _counts(db)
    db.session.commit()
    monkeypatch.setattr(backup, "LOCK_WAIT", 1.0)
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with other.connect() as stuck:          # a worker that hangs inside its transaction
        stuck.execute(text("UPDATE users SET display_name = 'Hängt' WHERE username = 'lars.loner'"))
        result = runner.invoke(args=["forum", "restore", "--yes", str(folder)])
        stuck.rollback()
    other.dispose()
    assert result.exit_code == 1, result.output
    assert "gesperrt" in result.output and "nicht verändert" in result.output
    assert _counts(db) == now and db.session.get(Post, late_id) is not None
    assert _hits("mia.member", "Nachzügler") == 1 and _hits("mia.member", "Zeitkapsel") == 0
    assert not (Path(app.config["SEARCH_DIR"]) / "STALE").exists()


def test_missing_postgres_tools_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(backup.BackupError, match="„pg_restore“ wurde nicht gefunden.*postgresql-client"):
        backup._tool("pg_restore")

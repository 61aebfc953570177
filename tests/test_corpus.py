"""``flask forum import`` / ``forum export`` for the corpus format (../shared/bench/FORMAT.md)."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forum.models import Board, Cluster, ImportRecord, Membership, MembershipRole, Post, Tag, Thread, User, thread_tags
from forum.models.threads import PATH_WIDTH
from forum.rendering import render
from tests import conftest, factories

MAKE_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "make_corpus.py"
if not MAKE_CORPUS.exists():
    MAKE_CORPUS = Path("/work/shared/bench/make_corpus.py")


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "small.jsonl"
    subprocess.run([sys.executable, str(MAKE_CORPUS), "--users", "30", "--clusters", "2", "--threads", "40",
                    "--out", str(path)], check=True, capture_output=True)
    return path


def _kinds(path: Path) -> Counter:
    return Counter(json.loads(line)["kind"] for line in path.open(encoding="utf-8"))


def _import(runner, path: Path):
    return runner.invoke(args=["forum", "import", str(path)])


def _validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MAKE_CORPUS), "--validate", str(path)], capture_output=True, text=True)


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_import_creates_every_record(runner, db, corpus_file):
    result = _import(runner, corpus_file)
    assert result.exit_code == 0, result.output
    kinds = _kinds(corpus_file)
    assert _count(db, User) == kinds["user"]
    assert _count(db, Cluster) == kinds["cluster"]
    assert db.session.scalar(select(func.count(Board.id)).where(Board.cluster_id.is_not(None))) == kinds["board"]
    assert _count(db, Thread) == kinds["thread"]
    assert _count(db, Post) == kinds["post"]
    records = [json.loads(line) for line in corpus_file.open(encoding="utf-8")]
    clusters = [r for r in records if r["kind"] == "cluster"]
    assert _count(db, Membership) == sum(len(c["member_ids"]) for c in clusters)
    managers = db.session.scalar(select(func.count(Membership.id)).where(Membership.role == MembershipRole.MANAGER))
    assert managers == sum(len(c["manager_ids"]) for c in clusters)
    assert "vom Worker neu aufgebaut" in result.output   # the import hands indexing to the worker (Issue 20, point 1)


def test_imported_users_have_no_usable_password(runner, db, corpus_file):
    _import(runner, corpus_file)
    assert set(db.session.scalars(select(User.password_hash))) == {""}


def test_imported_trees_match_what_posting_builds(runner, db, corpus_file):
    _import(runner, corpus_file)
    posts = {p.id: p for p in db.session.scalars(select(Post))}
    subtree = Counter()
    for post in posts.values():
        if post.parent_id is None:
            assert post.depth == 0 and post.path == str(post.id).zfill(PATH_WIDTH) and post.branch_id == post.id
            continue
        parent = posts[post.parent_id]
        assert parent.thread_id == post.thread_id and parent.created_at <= post.created_at
        assert post.depth == parent.depth + 1
        assert post.path == f"{parent.path}/{str(post.id).zfill(PATH_WIDTH)}"
        assert post.branch_id == (post.id if parent.parent_id is None else parent.branch_id)
        subtree[post.branch_id] += 1
    for post in posts.values():
        if post.parent_id is not None and post.branch_id == post.id:
            assert post.branch_size == subtree[post.id]
    assert max(p.depth for p in posts.values()) >= 2
    sample = next(iter(posts.values()))
    assert sample.body_html == render(sample.body_markdown)


def test_imported_counters_are_right(runner, db, corpus_file):
    _import(runner, corpus_file)
    for thread in db.session.scalars(select(Thread)):
        posts = db.session.scalars(select(Post).where(Post.thread_id == thread.id).order_by(Post.id)).all()
        assert thread.first_post_id == posts[0].id and posts[0].parent_id is None
        assert thread.reply_count == len(posts) - 1
        assert thread.branch_count == sum(1 for p in posts if p.parent_id == posts[0].id)
        assert thread.created_at == posts[0].created_at
        assert thread.last_activity_at == posts[-1].created_at
        assert thread.last_poster_id == posts[-1].author_id
    for board in db.session.scalars(select(Board).where(Board.cluster_id.is_not(None))):
        assert board.thread_count == _count_where(db, Thread, Thread.board_id == board.id)
        assert board.post_count == db.session.scalar(
            select(func.count(Post.id)).join(Thread, Thread.id == Post.thread_id).where(Thread.board_id == board.id))


def _count_where(db, model, condition) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(condition))


def test_tags_become_tag_rows_and_themenfelder_are_reused(runner, db, tmp_path):
    path = tmp_path / "tags.jsonl"
    path.write_text("".join(json.dumps(r,
                                       ensure_ascii=False) + "\n" for r in _tiny(tags=["foerderung", "fachkraefte"])),
                    encoding="utf-8")
    assert _import(runner, path).exit_code == 0
    tags = {t.slug: t for t in db.session.scalars(select(Tag).where(Tag.slug.in_(["foerderung", "fachkraefte"])))}
    assert tags["foerderung"].name == "Förderung" and not tags["foerderung"].is_themenfeld
    assert tags["fachkraefte"].is_themenfeld and tags["fachkraefte"].name == "Fachkräfte"
    assert _count(db, thread_tags) == 2


def test_second_import_adds_nothing(runner, db, corpus_file):
    assert _import(runner, corpus_file).exit_code == 0
    before = [_count(db, m) for m in (User, Cluster, Membership, Board, Thread, Post, Tag, ImportRecord)]
    counters = db.session.execute(select(Board.id, Board.thread_count, Board.post_count).order_by(Board.id)).all()
    again = _import(runner, corpus_file)
    assert again.exit_code == 0, again.output
    assert "übersprungen" in again.output
    db.session.expire_all()
    assert [_count(db, m) for m in (User, Cluster, Membership, Board, Thread, Post, Tag, ImportRecord)] == before
    assert db.session.execute(select(Board.id, Board.thread_count,
                                     Board.post_count).order_by(Board.id)).all() == counters


def test_round_trip_gives_equal_data_and_identical_files(app, runner, db, corpus_file, tmp_path):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert _import(runner, corpus_file).exit_code == 0
    assert runner.invoke(args=["forum", "export", str(first)]).exit_code == 0
    assert _validate(first).returncode == 0, _validate(first).stderr
    assert _normalised(first) == _normalised(corpus_file)
    db.session.remove()
    conftest._reset_schema()
    factories.seed_basics()
    assert _import(runner, first).exit_code == 0
    assert runner.invoke(args=["forum", "export", str(second)]).exit_code == 0
    assert second.read_bytes() == first.read_bytes()


def _normalised(path: Path) -> list[dict]:
    """Records with their tag lists sorted (the forum keeps a thread's tags as a set)."""
    records = [json.loads(line) for line in path.open(encoding="utf-8")]
    for record in records:
        if record["kind"] == "thread":
            record["tags"] = sorted(record["tags"])
    return records


def test_export_of_the_demo_data_is_valid(runner, tmp_path):
    assert runner.invoke(args=["forum", "seed-demo"]).exit_code == 0
    path = tmp_path / "demo.jsonl"
    result = runner.invoke(args=["forum", "export", str(path)])
    assert result.exit_code == 0, result.output
    check = _validate(path)
    assert check.returncode == 0, check.stderr
    assert "clusterübergreifend" in result.output   # the platform board cannot be exported, and it says so


def test_export_writes_deleted_posts_as_placeholders(world, runner, tmp_path):
    from forum.services import posting

    post = factories.reply(world.thread_a, world.member, "Das nehme ich besser zurück.")
    posting.delete_post(world.member, post)
    path = tmp_path / "out.jsonl"
    assert runner.invoke(args=["forum", "export", str(path)]).exit_code == 0
    text = path.read_text(encoding="utf-8")
    assert "Das nehme ich besser zurück." not in text and "Beitrag gelöscht" in text
    assert _validate(path).returncode == 0


# -- bad input: exit 1, "Zeile N: …", nothing written ---------------------------------------

def _tiny(tags: list[str] | None = None) -> list[dict]:
    """A valid corpus: 3 users (lines 1–3), a cluster (4), a board (5), a thread (6), 3 posts (7–9)."""
    users = [{"kind": "user", "id": i, "username": name, "email": f"{name}@example.org", "display_name": display,
              "trade": "Tischler", "company": f"Tischlerei {display}", "region": "Münsterland"}
             for i, (name, display) in enumerate([("anna.alt", "Anna Alt"), ("bernd.bau", "Bernd Bau"),
                                                  ("carla.chef", "Carla Chef")], 1)]
    return users + [
        {"kind": "cluster", "id": 1, "name": "Holz & Haus", "slug": "holz-und-haus", "description": "Tischlereien.",
         "manager_ids": [1], "member_ids": [1, 2, 3]},
        {"kind": "board", "id": 1, "cluster_id": 1, "name": "Wärmepumpe", "slug": "waermepumpe", "description": ""},
        {"kind": "thread", "id": 1, "board_id": 1, "author_id": 1, "title": "Kellerdeckendämmung im Altbau",
         "created_at": "2025-03-01T10:00:00Z", "tags": tags if tags is not None else ["altbau"]},
        {"kind": "post", "id": 1, "thread_id": 1, "author_id": 1, "parent_id": None,
         "body_markdown": "Wer hat Erfahrung mit **Kellerdeckendämmung**?", "created_at": "2025-03-01T10:00:00Z"},
        {"kind": "post", "id": 2, "thread_id": 1, "author_id": 2, "parent_id": 1,
         "body_markdown": "Wir dämmen mit 10 cm Holzfaser.", "created_at": "2025-03-01T12:00:00Z"},
        {"kind": "post", "id": 3, "thread_id": 1, "author_id": 3, "parent_id": 2,
         "body_markdown": "> Holzfaser\n\nWelcher Hersteller?", "created_at": "2025-03-02T08:00:00Z"},
    ]


def _write(path: Path, records: list, *, newline_at_end: bool = True) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + ("\n" if newline_at_end else ""), encoding="utf-8")
    return path


def _mutated(change) -> list:
    records = _tiny()
    change(records)
    return records


BAD = {
    "invalid JSON": (lambda r: r.__setitem__(6, '{"kind": "post", "id": 1,'), 7, "JSON"),
    "unknown kind": (lambda r: r[4].__setitem__("kind", "brett"), 5, "Unbekannte Art"),
    "missing field": (lambda r: r[1].pop("email"), 2, "Feld fehlt: email"),
    "extra field": (lambda r: r[5].__setitem__("pinned", True), 6, "unbekanntes Feld: pinned"),
    "wrong type": (lambda r: r[4].__setitem__("cluster_id", "1"), 5, "falschen Typ"),
    "bool as int": (lambda r: r[7].__setitem__("parent_id", True), 8, "falschen Typ"),
    "unknown cluster": (lambda r: r[4].__setitem__("cluster_id", 9), 5, "Unbekannter Cluster"),
    "unknown parent": (lambda r: r[8].__setitem__("parent_id", 99), 9, "parent_id"),
    "unknown member": (lambda r: r[3].__setitem__("member_ids", [1, 2, 3, 4]), 4, "member_ids"),
    "author not a member": (lambda r: r[3].__setitem__("member_ids", [1, 2]), 9, "kein Mitglied"),
    "order": (lambda r: r.insert(5, {**r[2], "id": 4, "username": "dora.dach", "email": "d@example.org"}), 6,
              "Reihenfolge"),
    "empty body": (lambda r: r[7].__setitem__("body_markdown", "  \n "), 8, "darf nicht leer sein"),
    "body too long": (lambda r: r[7].__setitem__("body_markdown", "Holz " * 10_001), 8, "höchstens 50.000"),
    "duplicate id": (lambda r: r[2].__setitem__("id", 2), 3, "doppelt"),
    "duplicate username": (lambda r: r[2].__setitem__("username", "anna.alt"), 3, "doppelt"),
    "post goes back in time": (lambda r: r[8].__setitem__("created_at", "2025-03-01T11:00:00Z"), 9, "älter"),
    "bad timestamp": (lambda r: r[7].__setitem__("created_at", "2025-02-30T10:00:00Z"), 8, "gibt es nicht"),
    "control character": (lambda r: r[5].__setitem__("title", "Dämmung\x07"), 6, "Steuerzeichen"),
    "opening post with parent": (lambda r: r[6].__setitem__("parent_id", 1), 7, "parent_id null"),
    "thread without posts": (lambda r: r.append({**r[5], "id": 2}), 10, "keinen Beitrag"),
    "post of another thread": (lambda r: r[8].__setitem__("thread_id", 2), 9, "gehört nicht"),
    "too many tags": (lambda r: r[5].__setitem__("tags", ["a", "b", "c", "d"]), 6, "Schlagwörter"),
}


def _assert_nothing_written(db) -> None:
    db.session.expire_all()
    for model in (User, Cluster, Membership, Thread, Post, ImportRecord):
        assert _count(db, model) == 0, model
    assert db.session.scalar(select(func.count(Board.id)).where(Board.cluster_id.is_not(None))) == 0


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_line_fails_with_its_number_and_writes_nothing(runner, db, tmp_path, case):
    change, lineno, reason = BAD[case]
    result = _import(runner, _write(tmp_path / "bad.jsonl", _mutated(change)))
    assert result.exit_code == 1
    assert f"Zeile {lineno}:" in result.output, result.output
    assert reason in result.output, result.output
    _assert_nothing_written(db)


def test_missing_final_newline_is_a_bad_line(runner, db, tmp_path):
    result = _import(runner, _write(tmp_path / "bad.jsonl", _tiny(), newline_at_end=False))
    assert result.exit_code == 1 and "Zeile 9:" in result.output and "Zeilenumbruch" in result.output
    _assert_nothing_written(db)


def test_bad_last_line_of_a_big_file_leaves_nothing_half_imported(runner, db, corpus_file, tmp_path):
    lines = corpus_file.read_text(encoding="utf-8").splitlines()
    result = _import(runner, _write(tmp_path / "bad.jsonl", lines + ['{"kind": "comment"}']))
    assert result.exit_code == 1
    assert f"Zeile {len(lines) + 1}:" in result.output
    _assert_nothing_written(db)


def test_a_username_that_exists_already_is_refused(runner, db, tmp_path):
    factories.user("bernd.bau")
    result = _import(runner, _write(tmp_path / "c.jsonl", _tiny()))
    assert result.exit_code == 1 and "Zeile 2:" in result.output and "bernd.bau" in result.output
    assert _count(db, Thread) == 0


def test_another_file_reusing_the_ids_is_refused(runner, db, tmp_path):
    assert _import(runner, _write(tmp_path / "one.jsonl", _tiny())).exit_code == 0
    other = _mutated(lambda r: r[0].__setitem__("username", "anna.neu"))
    result = _import(runner, _write(tmp_path / "two.jsonl", other))
    assert result.exit_code == 1 and "Zeile 1:" in result.output and "anderen Datei" in result.output


def test_import_caps_the_stored_depth_and_export_keeps_whom_each_post_answers(app, runner, db, corpus_file, tmp_path):
    """Issue 15, point 10: imported reply chains are stored at most MAX_REPLY_DEPTH deep like
    posted ones; deeper posts keep whom they answer in ``reply_to_id``, and the export writes
    that post as the parent, so nothing of the conversation's shape is lost."""
    app.config["MAX_REPLY_DEPTH"] = 1
    assert _import(runner, corpus_file).exit_code == 0
    posts = {p.id: p for p in db.session.scalars(select(Post))}
    assert max(p.depth for p in posts.values()) == 1
    moved = [p for p in posts.values() if p.reply_to_id is not None]
    assert moved, "the corpus has replies to replies"
    for post in moved:
        assert posts[post.reply_to_id].thread_id == post.thread_id and post.parent_id != post.reply_to_id
        assert post.path.count("/") == 1 and post.branch_id == post.id
    exported = tmp_path / "capped.jsonl"
    assert runner.invoke(args=["forum", "export", str(exported)]).exit_code == 0
    assert _normalised(exported) == _normalised(corpus_file)

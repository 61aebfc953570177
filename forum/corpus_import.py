"""The import's second pass: writes a corpus file that ``forum.corpus.check`` accepted.

Users, clusters and boards go through the ORM (few rows). Threads and posts are written as
bulk inserts: a batch of whole threads with their posts, ids allocated up front (PostgreSQL:
the table's sequence; SQLite: after the batch's first write, which holds the write lock), so
``path``/``branch_id`` use the local ids exactly as ``forum.services.posting`` builds them.
Each batch commits with its mapping rows, so a second import of the same file skips what is
there and an interrupted import continues where it stopped. Markdown is rendered by
``forum.rendering.render`` in worker processes while the previous batch is written.

The search index is not touched per post: after an import, ``flask search reindex``
rebuilds it (the command prints that hint).
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, insert, select, text, update

from forum import corpus
from forum.extensions import db
from forum.models import Board, Cluster, ImportRecord, Membership, MembershipRole, Post, Tag, Thread, User, thread_tags
from forum.rendering import render
from forum.services import clusters as cluster_service
from forum.services.posting import _segment, depth_cap, tree_place

BATCH = 2000
POOL_THRESHOLD = 2_000_000  # bytes: below this, rendering in this process is quicker than starting workers


@dataclasses.dataclass
class Result:
    created: Counter = dataclasses.field(default_factory=Counter)
    skipped: Counter = dataclasses.field(default_factory=Counter)


@dataclasses.dataclass
class _Block:
    """One thread and its posts, as read from the file and cleaned."""
    record: dict[str, Any]
    values: dict[str, Any]
    posts: list[tuple[dict[str, Any], dict[str, Any]]] = dataclasses.field(default_factory=list)


def tag_name(slug: str) -> str:
    """A readable name for a tag known only by its slug: ``foerderung`` → ``Förderung``,
    ``pv-speicher`` → ``PV Speicher`` (umlauts restored where German spelling makes it likely)."""
    words = []
    for word in slug.split("-"):
        if len(word) <= 3 and not re.search(r"[aeiou]{2}", word):
            words.append(word.upper())
            continue
        word = re.sub(r"(?<![aeq])ue(?!ll)", "ü", word)
        word = re.sub(r"(?<!e)oe", "ö", word)
        word = re.sub(r"ae", "ä", word)
        words.append(word[:1].upper() + word[1:])
    return " ".join(words)


class Renderer:
    """Renders a batch's bodies in worker processes while the caller writes the previous one.
    Create it before the checking pass so the workers are ready when writing starts."""

    def __init__(self, size: int) -> None:
        workers = min(os.cpu_count() or 1, 4)
        self.pool = None
        if size >= POOL_THRESHOLD and workers > 1:
            methods = multiprocessing.get_all_start_methods()
            # fork starts at once with the modules loaded; the workers only render, never touch the database
            self.pool = multiprocessing.get_context("fork" if "fork" in methods else "spawn").Pool(workers)

    def start(self, bodies: list[str]):
        if self.pool is None:
            return _Done([render(body) for body in bodies])
        return self.pool.map_async(render, bodies, chunksize=64)

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


@dataclasses.dataclass
class _Done:
    value: list[str]

    def get(self) -> list[str]:
        return self.value


class _Importer:
    def __init__(self, summary: corpus.Summary, renderer: Renderer) -> None:
        self.result = Result()
        self.users = _mapping("user")
        self.clusters = _mapping("cluster")
        self.boards = _mapping("board")
        self.board_positions: dict[int, int] = {}
        self.pending: list[tuple[str, int, str, Any]] = []   # kind, corpus id, key, ORM object
        self.blocks: list[_Block] = []
        self.block_posts = 0
        self.in_flight: tuple[list[_Block], Any] | None = None
        self.renderer = renderer
        self.tags = self._ensure_tags(summary.tags)

    # -- users, clusters, boards ----------------------------------------------------------

    def user(self, record: dict, values: dict) -> None:
        if record["id"] in self.users:
            self.result.skipped["user"] += 1
            return
        user = User(password_hash="", **values)   # no usable password: the owner sets one via reset
        self._add("user", record["id"], values["username"], user)

    def cluster(self, record: dict, values: dict) -> None:
        if record["id"] in self.clusters:
            self.result.skipped["cluster"] += 1
            return
        if self.pending and self.pending[-1][0] != "cluster":
            self.flush_objects()
        cluster = Cluster(**values)
        managers = set(record["manager_ids"])
        for member_id in record["member_ids"]:
            role = MembershipRole.MANAGER if member_id in managers else MembershipRole.MEMBER
            db.session.add(Membership(cluster=cluster, user_id=self.users[member_id], role=role))
        self._add("cluster", record["id"], values["slug"], cluster)

    def board(self, record: dict, values: dict) -> None:
        if record["id"] in self.boards:
            self.result.skipped["board"] += 1
            return
        if self.pending and self.pending[-1][0] != "board":
            self.flush_objects()
        cluster_id = self.clusters[record["cluster_id"]]
        if cluster_id not in self.board_positions:
            self.board_positions[cluster_id] = db.session.scalar(
                select(func.coalesce(func.max(Board.position), -1) + 1).where(Board.cluster_id == cluster_id))
        position = self.board_positions[cluster_id]
        self.board_positions[cluster_id] += 1
        board = Board(cluster_id=cluster_id, position=position, **values)
        self._add("board", record["id"], f"{record['cluster_id']}/{values['slug']}", board)

    def _add(self, kind: str, corpus_id: int, key: str, obj: Any) -> None:
        db.session.add(obj)
        self.pending.append((kind, corpus_id, key, obj))
        if len(self.pending) >= BATCH:
            self.flush_objects()

    def flush_objects(self) -> None:
        if not self.pending:
            return
        db.session.flush()
        rows = [{"kind": kind, "corpus_id": corpus_id, "local_id": obj.id, "key": key}
                for kind, corpus_id, key, obj in self.pending]
        db.session.execute(insert(ImportRecord), rows)
        db.session.commit()
        for kind, corpus_id, _key, obj in self.pending:
            getattr(self, f"{kind}s")[corpus_id] = obj.id
            self.result.created[kind] += 1
        self.pending.clear()
        db.session.expunge_all()

    # -- threads and posts ----------------------------------------------------------------

    def thread(self, record: dict, values: dict) -> None:
        self.flush_objects()
        self.blocks.append(_Block(record, values))
        if self.block_posts >= BATCH:
            self.flush_blocks(keep_last=True)

    def post(self, record: dict, values: dict) -> None:
        self.blocks[-1].posts.append((record, values))
        self.block_posts += 1

    def flush_blocks(self, keep_last: bool = False) -> None:
        """Hands the collected threads to the renderer and writes the batch before it."""
        ready = self.blocks[:-1] if keep_last else self.blocks
        self.blocks = self.blocks[-1:] if keep_last else []
        self.block_posts = sum(len(b.posts) for b in self.blocks)
        done = _imported_ids("thread", [b.record["id"] for b in ready])
        fresh = [b for b in ready if b.record["id"] not in done]
        for block in ready:
            if block.record["id"] in done:
                self.result.skipped["thread"] += 1
                self.result.skipped["post"] += len(block.posts)
        started = self.renderer.start([values["body"] for b in fresh for _r, values in b.posts]) if fresh else None
        if self.in_flight is not None:
            self._write(*self.in_flight)
        self.in_flight = (fresh, started) if fresh else None

    def finish(self) -> None:
        self.flush_objects()
        self.flush_blocks()
        if self.in_flight is not None:
            self._write(*self.in_flight)
            self.in_flight = None

    def _write(self, blocks: list[_Block], rendered) -> None:
        html = iter(rendered.get())
        per_board: Counter = Counter()
        board_threads: Counter = Counter()
        for block in blocks:
            board_id = self.boards[block.record["board_id"]]
            board_threads[board_id] += 1
            per_board[board_id] += len(block.posts)
        # The first write of the transaction: on SQLite it takes the write lock, so the ids
        # allocated next cannot be taken by another writer before this batch commits.
        for board_id, threads in board_threads.items():
            db.session.execute(update(Board.__table__).where(Board.id == board_id).values(
                thread_count=Board.thread_count + threads, post_count=Board.post_count + per_board[board_id]))
        thread_ids = iter(_allocate(Thread.__table__.name, len(blocks)))
        post_ids = iter(_allocate(Post.__table__.name, sum(len(b.posts) for b in blocks)))
        threads, posts, tags, mapping = [], [], [], []
        for block in blocks:
            thread_id = next(thread_ids)
            rows = _tree(block, thread_id, post_ids, html, self.users)
            first, last = rows[0], rows[-1]
            threads.append({
                "id": thread_id, "board_id": self.boards[block.record["board_id"]],
                "author_id": self.users[block.record["author_id"]], "title": block.values["title"],
                "is_pinned": False, "is_locked": False, "lock_reason": "",
                "created_at": block.values["created_at"], "last_activity_at": last["created_at"],
                "last_poster_id": last["author_id"], "first_post_id": first["id"],
                "reply_count": len(rows) - 1, "branch_count": sum(1 for r in rows if r["parent_id"] == first["id"]),
            })
            posts.extend(rows)
            tags.extend({"thread_id": thread_id, "tag_id": self.tags[slug]} for slug in block.values["tags"])
            mapping.append({"kind": "thread", "corpus_id": block.record["id"], "local_id": thread_id, "key": ""})
            mapping.extend({"kind": "post", "corpus_id": record["id"], "local_id": row["id"], "key": ""}
                           for (record, _values), row in zip(block.posts, rows, strict=True))
        db.session.execute(insert(Thread.__table__), threads)
        db.session.execute(insert(Post.__table__), posts)
        if tags:
            db.session.execute(insert(thread_tags), tags)
        db.session.execute(insert(ImportRecord.__table__), mapping)
        db.session.commit()
        self.result.created["thread"] += len(threads)
        self.result.created["post"] += len(posts)

    def _ensure_tags(self, slugs: set[str]) -> dict[str, int]:
        """Themenfelder first, then a plain tag for every other slug in the file."""
        cluster_service.ensure_themenfelder()
        known = dict(db.session.execute(select(Tag.slug, Tag.id).where(Tag.slug.in_(slugs))).all()) if slugs else {}
        missing = sorted(slugs - set(known))
        if missing:
            db.session.execute(insert(Tag), [{"slug": s, "name": tag_name(s)[:120], "is_themenfeld": False,
                                              "position": 100} for s in missing])
            db.session.commit()
            known.update(db.session.execute(select(Tag.slug, Tag.id).where(Tag.slug.in_(missing))).all())
        return known


def _tree(block: _Block, thread_id: int, post_ids, html, users: dict[int, int]) -> list[dict[str, Any]]:
    """The thread's post rows with depth, path, branch and branch size as ``posting`` keeps them."""
    rows: list[dict[str, Any]] = []
    by_corpus: dict[int, dict[str, Any]] = {}
    cap = depth_cap()
    for record, values in block.posts:
        post_id = next(post_ids)
        parent = by_corpus.get(record["parent_id"]) if record["parent_id"] is not None else None
        anchor_id, depth, anchor_path = (tree_place(parent["id"], parent["depth"], parent["path"], cap)
                                         if parent else (None, 0, ""))
        row = {
            "id": post_id, "thread_id": thread_id, "author_id": users[record["author_id"]],
            "parent_id": anchor_id, "depth": depth,
            "reply_to_id": parent["id"] if parent and anchor_id != parent["id"] else None,   # past the depth cap
            "path": f"{anchor_path}/{_segment(post_id)}" if parent else _segment(post_id),
            "branch_id": post_id, "branch_size": 1, "body_markdown": values["body"], "body_html": next(html),
            "created_at": values["created_at"], "edited_at": None, "edited_by_id": None, "revision_count": 0,
            "deleted_at": None, "deleted_by_id": None, "hidden_at": None, "hidden_by_id": None, "hidden_reason": "",
        }
        if parent is not None and depth > 1:   # below a top-level reply
            row["branch_id"] = parent["branch_id"]
        rows.append(row)
        by_corpus[record["id"]] = row
    sizes = Counter(r["branch_id"] for r in rows if r["parent_id"] is not None)
    for row in rows:
        if row["parent_id"] is not None and row["branch_id"] == row["id"]:
            row["branch_size"] = sizes[row["id"]]
    return rows


def _mapping(kind: str) -> dict[int, int]:
    return dict(db.session.execute(select(ImportRecord.corpus_id, ImportRecord.local_id)
                                   .where(ImportRecord.kind == kind)).all())


def _imported_ids(kind: str, corpus_ids: list[int]) -> set[int]:
    if not corpus_ids:
        return set()
    return set(db.session.scalars(select(ImportRecord.corpus_id).where(
        ImportRecord.kind == kind, ImportRecord.corpus_id.between(min(corpus_ids), max(corpus_ids)))))


def _allocate(table: str, count: int) -> list[int]:
    """``count`` new primary keys for ``table``, taken before the rows are inserted."""
    if count == 0:
        return []
    if db.engine.dialect.name == "postgresql":
        return sorted(db.session.scalars(text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
            {"table": table, "count": count}))
    start = db.session.scalar(text(f"SELECT coalesce(max(id), 0) + 1 FROM {table}"))
    return list(range(start, start + count))


def run(path: str, summary: corpus.Summary, advance: Callable[[int], None] = lambda n: None,
        renderer: Renderer | None = None) -> Result:
    """The second pass over a checked file."""
    with renderer or Renderer(summary.size) as active:
        importer = _Importer(summary, active)
        try:
            for _lineno, nbytes, record in corpus.records(path):
                getattr(importer, record["kind"])(record, corpus.clean(record))
                advance(nbytes)
            importer.finish()
        except BaseException:
            db.session.rollback()
            raise
    return importer.result

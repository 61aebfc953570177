"""Writes the forum back in the corpus format (``forum.corpus``), streamed thread by thread.

Ids are renumbered 1…n per kind in file order, so exporting an imported file and importing
and exporting that again gives the same bytes. What the format cannot hold is adapted, and
the caller gets a count of each adaptation to report:

- platform-wide boards (no cluster) and their threads are left out;
- a soft-deleted or hidden post keeps its place in the tree with a placeholder text, so the
  export never republishes what was taken down;
- an author who has left the cluster is listed among its ``member_ids`` (the format wants
  every author to be a member); titles over 120 characters are shortened; a thread keeps at
  most three tags.
"""
from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable

from flask_babel import gettext as _
from sqlalchemy import false, func, select

from forum import corpus
from forum.extensions import db
from forum.models import Board, Cluster, Membership, MembershipRole, Post, Tag, Thread, User, thread_tags
from forum.models.util import isoformat

CHUNK = 500  # threads per query


class ExportError(Exception):
    pass


@dataclasses.dataclass
class Report:
    counts: Counter = dataclasses.field(default_factory=Counter)
    adapted: Counter = dataclasses.field(default_factory=Counter)


def thread_total() -> int:
    return db.session.scalar(select(func.count(Thread.id)).join(Board).where(Board.cluster_id.is_not(None))) or 0


def export(path: str, advance: Callable[[int], None] = lambda n: None) -> Report:
    report = Report()
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        def emit(kind: str, record: dict) -> None:
            report.counts[kind] += 1
            out.write(corpus.dumps({"kind": kind, "id": report.counts[kind], **record}))

        user_ids: dict[int, int] = {}
        for user in db.session.scalars(select(User).order_by(User.id)):
            user_ids[user.id] = len(user_ids) + 1
            emit("user", {"username": user.username, "email": user.email, "display_name": user.display_name,
                          "trade": user.trade, "company": user.company, "region": user.region})
        cluster_ids = _clusters(emit, user_ids, report)
        board_ids: dict[int, int] = {}
        boards = db.session.scalars(select(Board).where(Board.cluster_id.is_not(None))
                                    .order_by(Board.cluster_id, Board.position, Board.id))
        for board in boards:
            board_ids[board.id] = len(board_ids) + 1
            emit("board", {"cluster_id": cluster_ids[board.cluster_id], "name": board.name, "slug": board.slug,
                           "description": board.description})
        report.adapted["platform_threads"] = db.session.scalar(
            select(func.count(Thread.id)).join(Board).where(Board.cluster_id.is_(None))) or 0
        last_id = 0
        while True:
            threads = list(db.session.scalars(
                select(Thread).where(Thread.id > last_id,
                                     Thread.board_id.in_(list(board_ids)) if board_ids else false())
                .order_by(Thread.id).limit(CHUNK)))
            if not threads:
                break
            last_id = threads[-1].id
            _threads(threads, emit, user_ids, board_ids, report)
            advance(len(threads))
            db.session.expunge_all()
    return report


def _clusters(emit, user_ids: dict[int, int], report: Report) -> dict[int, int]:
    members: dict[int, set[int]] = defaultdict(set)
    managers: dict[int, set[int]] = defaultdict(set)
    for cluster_id, user_id, role in db.session.execute(
            select(Membership.cluster_id, Membership.user_id, Membership.role)):
        members[cluster_id].add(user_ids[user_id])
        if role == MembershipRole.MANAGER:
            managers[cluster_id].add(user_ids[user_id])
    authors = select(Board.cluster_id, Post.author_id).join(Thread, Thread.id == Post.thread_id) \
        .join(Board, Board.id == Thread.board_id).where(Board.cluster_id.is_not(None)).distinct()
    for cluster_id, author_id in db.session.execute(authors):
        if author_id is None:
            raise ExportError(_("Ein Beitrag hat kein Konto mehr als Autor; das Format verlangt eines."))
        if user_ids[author_id] not in members[cluster_id]:
            members[cluster_id].add(user_ids[author_id])
            report.adapted["former_members"] += 1
    cluster_ids: dict[int, int] = {}
    for cluster in db.session.scalars(select(Cluster).order_by(Cluster.id)):
        if not managers[cluster.id]:
            raise ExportError(_("Der Cluster „%(name)s“ hat keinen Manager; das Format verlangt mindestens einen.",
                                name=cluster.name))
        cluster_ids[cluster.id] = len(cluster_ids) + 1
        emit("cluster", {"name": cluster.name, "slug": cluster.slug, "description": cluster.description,
                         "manager_ids": sorted(managers[cluster.id]), "member_ids": sorted(members[cluster.id])})
    return cluster_ids


def _threads(threads: list[Thread], emit, user_ids: dict[int, int], board_ids: dict[int, int], report: Report) -> None:
    ids = [t.id for t in threads]
    posts: dict[int, list[Post]] = defaultdict(list)
    for post in db.session.scalars(select(Post).where(Post.thread_id.in_(ids)).order_by(Post.thread_id, Post.id)):
        posts[post.thread_id].append(post)
    tags: dict[int, list[str]] = defaultdict(list)
    for thread_id, slug in db.session.execute(select(thread_tags.c.thread_id, Tag.slug)
                                              .join(Tag, Tag.id == thread_tags.c.tag_id)
                                              .where(thread_tags.c.thread_id.in_(ids)).order_by(Tag.slug)):
        tags[thread_id].append(slug)
    for thread in threads:
        thread_posts = posts.get(thread.id)
        if not thread_posts:
            report.adapted["empty_threads"] += 1
            continue
        if thread.author_id is None:
            raise ExportError(_("Das Thema „%(title)s“ hat kein Konto mehr als Autor.", title=thread.title))
        title = thread.title if len(thread.title) <= corpus.MAX_TITLE else thread.title[:corpus.MAX_TITLE - 1] + "…"
        report.adapted["shortened_titles"] += title != thread.title
        report.adapted["dropped_tags"] += max(0, len(tags[thread.id]) - corpus.MAX_TAGS)
        opening = thread_posts[0]
        emit("thread", {"board_id": board_ids[thread.board_id], "author_id": user_ids[thread.author_id],
                        "title": title, "created_at": isoformat(opening.created_at),
                        "tags": tags[thread.id][:corpus.MAX_TAGS]})
        numbers: dict[int, int] = {}
        previous = opening.created_at
        for post in thread_posts:
            created = max(post.created_at, previous)
            previous = created
            if post is opening:
                parent = None
            else:
                parent = numbers.get(post.answers_id) or numbers[opening.id]   # whom it answers, past the depth cap too
            body = post.body_markdown
            if post.deleted_at is not None:
                body, report.adapted["deleted_posts"] = _("*Beitrag gelöscht*"), report.adapted["deleted_posts"] + 1
            elif post.hidden_at is not None:
                body, report.adapted["hidden_posts"] = (_("*Beitrag von der Moderation ausgeblendet*"),
                                                        report.adapted["hidden_posts"] + 1)
            emit("post", {"thread_id": report.counts["thread"], "author_id": user_ids[post.author_id],
                          "parent_id": parent, "body_markdown": body, "created_at": isoformat(created)})
            numbers[post.id] = report.counts["post"]

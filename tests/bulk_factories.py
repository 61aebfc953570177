"""Many rows fast, for the query-count tests (``tests/test_query_counts.py``).

``tests/factories`` goes through the services, one commit per object; that is right for
behaviour tests but too slow for a thread with 200 posts in every test. These helpers insert
rows directly, in a handful of statements, keeping the invariants pages rely on (reply tree
paths and branch sizes, denormalised counters, first posts). The rows are deliberately
varied — different authors, threads, clusters, kinds — so a page that loads one related row
per listed row cannot hide behind the session's identity map.

Every helper commits and returns ids (not objects), so callers can drop the session freely.
"""
from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import func, select, update

from forum.extensions import db
from forum.models import (
    Board,
    Cluster,
    InterestExpression,
    JoinRequest,
    Membership,
    MembershipRole,
    ModerationLogEntry,
    Notification,
    Post,
    PostRevision,
    Reaction,
    Report,
    Tag,
    Thread,
    User,
    Watch,
    thread_tags,
    utcnow,
)
from forum.models.threads import PATH_WIDTH
from forum.rendering import render

_seq = itertools.count(1)
_BODY = "Ein **Beitrag** mit etwas Text über die Ausbildung im Betrieb."
_HTML: dict[str, str] = {}


def _html(markdown: str) -> str:
    if markdown not in _HTML:
        _HTML[markdown] = render(markdown)
    return _HTML[markdown]


def _segment(post_id: int) -> str:
    return str(post_id).zfill(PATH_WIDTH)


def _cycle(ids: list[int], i: int) -> int:
    return ids[i % len(ids)]


# -- people --------------------------------------------------------------------------------

def users(n: int, *, cluster_id: int | None = None, role: str = "member", prefix: str = "massen") -> list[int]:
    """``n`` accounts (password ``factories.PASSWORD``), members of ``cluster_id`` if given."""
    password_hash = db.session.scalar(select(User.password_hash).where(User.password_hash != "").limit(1)) or ""
    now = utcnow()
    made = []
    for i in range(n):
        k = next(_seq)
        made.append(User(username=f"{prefix}{k}", email=f"{prefix}{k}@example.org", display_name=f"Person {k}",
                         company=f"Betrieb {k}", trade="Tischler", password_hash=password_hash,
                         created_at=now - dt.timedelta(days=400), last_seen_at=now - dt.timedelta(days=i)))
    db.session.add_all(made)
    db.session.flush()
    if cluster_id is not None:
        db.session.add_all(Membership(user_id=u.id, cluster_id=cluster_id, role=MembershipRole(role)) for u in made)
    db.session.commit()
    return [u.id for u in made]


def memberships(user_id: int, cluster_ids: list[int], role: str = "member") -> None:
    db.session.add_all(Membership(user_id=user_id, cluster_id=c, role=MembershipRole(role)) for c in cluster_ids)
    db.session.commit()


def clusters(n: int, *, boards_each: int = 1) -> list[int]:
    """``n`` clusters with ``boards_each`` boards each."""
    made = []
    for _i in range(n):
        k = next(_seq)
        made.append(Cluster(name=f"Massencluster {k}", slug=f"massencluster-{k}", region="Westfalen",
                            description="Ein Cluster", topics=["nachfolge"]))
    db.session.add_all(made)
    db.session.flush()
    for cluster in made:
        _boards(cluster.id, boards_each)
    db.session.commit()
    return [c.id for c in made]


def _boards(cluster_id: int | None, n: int) -> list[Board]:
    start = db.session.scalar(select(func.coalesce(func.max(Board.position), 0)).where(
        Board.cluster_id.is_(None) if cluster_id is None else Board.cluster_id == cluster_id))
    made = []
    for i in range(n):
        k = next(_seq)
        made.append(Board(cluster_id=cluster_id, name=f"Massenbrett {k}", slug=f"massenbrett-{k}",
                          description="Ein Brett", position=start + i + 1))
    db.session.add_all(made)
    db.session.flush()
    return made


def boards(cluster_id: int | None, n: int, *, threads_each: int = 0, author_ids: list[int] | None = None) -> list[int]:
    made = [b.id for b in _boards(cluster_id, n)]
    db.session.commit()
    if threads_each:
        for board_id in made:
            threads(board_id, author_ids or [], threads_each)
    return made


# -- threads and posts --------------------------------------------------------------------------

def threads(board_id: int, author_ids: list[int], n: int, *, title: str = "Massenthema",
            body: str = _BODY, pinned: int = 0, start: dt.datetime | None = None) -> list[int]:
    """``n`` threads with their opening posts, by turns of the authors, each with a Themenfeld,
    the first ``pinned`` of them pinned; the newest activity last."""
    tag_ids = list(db.session.scalars(select(Tag.id).where(Tag.is_themenfeld.is_(True)).order_by(Tag.position)))
    start = start or utcnow() - dt.timedelta(days=30)
    made = []
    for i in range(n):
        stamp = start + dt.timedelta(minutes=i)
        author = _cycle(author_ids, i)
        made.append(Thread(board_id=board_id, author_id=author, title=f"{title} {next(_seq)}", created_at=stamp,
                           last_activity_at=stamp, last_poster_id=_cycle(author_ids, i + 1), is_pinned=i < pinned))
    db.session.add_all(made)
    db.session.flush()
    posts = [Post(thread_id=t.id, author_id=t.author_id, depth=0, body_markdown=body, body_html=_html(body),
                  created_at=t.created_at) for t in made]
    db.session.add_all(posts)
    db.session.flush()
    for thread, post in zip(made, posts, strict=True):
        post.path = _segment(post.id)
        post.branch_id = post.id
        thread.first_post_id = post.id
    if tag_ids:
        db.session.execute(thread_tags.insert(), [{"thread_id": t.id, "tag_id": _cycle(tag_ids, i)}
                                                  for i, t in enumerate(made)])
    db.session.execute(update(Board).where(Board.id == board_id).values(
        thread_count=Board.thread_count + n, post_count=Board.post_count + n))
    db.session.commit()
    return [t.id for t in made]


def replies(thread_id: int, author_ids: list[int], n: int, *, body: str = _BODY) -> list[int]:
    """``n`` replies: every third one top-level, the others nested two levels below it; some
    edited by someone else, some deleted or hidden, so every kind of row appears."""
    thread = db.session.get(Thread, thread_id)
    first = db.session.get(Post, thread.first_post_id)
    last = db.session.scalar(select(func.max(Post.created_at)).where(Post.thread_id == thread_id)) or first.created_at
    now = utcnow()
    made: list[Post] = []
    parents: list[Post | None] = []
    for i in range(n):
        post = Post(thread_id=thread_id, author_id=_cycle(author_ids, i), body_markdown=body, body_html=_html(body),
                    created_at=min(last + dt.timedelta(seconds=i + 1), now))
        if i % 7 == 3:
            post.edited_at, post.edited_by_id, post.revision_count = now, _cycle(author_ids, i + 1), 1
        if i % 11 == 5:
            post.deleted_at, post.deleted_by_id = now, post.author_id
        if i % 13 == 6:
            post.hidden_at, post.hidden_by_id, post.hidden_reason = now, _cycle(author_ids, i + 2), "Werbung"
        made.append(post)
        parents.append(None if i % 3 == 0 else made[i - 1])
    db.session.add_all(made)
    db.session.flush()  # ids in order; parents and paths follow
    branch_sizes: dict[int, int] = {}
    for post, parent in zip(made, parents, strict=True):
        anchor = parent or first
        post.parent_id = anchor.id
        post.depth = anchor.depth + 1
        post.path = f"{anchor.path}/{_segment(post.id)}"
        post.branch_id = post.id if parent is None else parent.branch_id
        branch_sizes[post.branch_id] = branch_sizes.get(post.branch_id, 0) + 1
    for post in made:
        if post.id in branch_sizes:
            post.branch_size = branch_sizes[post.id]
    top_level = sum(1 for parent in parents if parent is None)
    thread.reply_count += n
    thread.branch_count += top_level
    thread.last_activity_at = made[-1].created_at if made else thread.last_activity_at
    thread.last_poster_id = made[-1].author_id if made else thread.last_poster_id
    db.session.execute(update(Board).where(Board.id == thread.board_id).values(post_count=Board.post_count + n))
    db.session.commit()
    return [p.id for p in made]


def pending_posts(thread_id: int, author_ids: list[int], n: int) -> list[int]:
    """Top-level replies awaiting a manager's approval (not counted, not indexed)."""
    thread = db.session.get(Thread, thread_id)
    first = db.session.get(Post, thread.first_post_id)
    made = [Post(thread_id=thread_id, author_id=_cycle(author_ids, i), parent_id=first.id, depth=1,
                 body_markdown=_BODY, body_html=_html(_BODY), awaiting_approval=True) for i in range(n)]
    db.session.add_all(made)
    db.session.flush()
    for post in made:
        post.path = f"{first.path}/{_segment(post.id)}"
        post.branch_id = post.id
    db.session.commit()
    return [p.id for p in made]


def solution(thread_id: int, post_id: int) -> None:
    db.session.execute(update(Thread).where(Thread.id == thread_id).values(solution_post_id=post_id))
    db.session.commit()


def revisions(post_id: int, editor_ids: list[int], n: int) -> None:
    post = db.session.get(Post, post_id)
    db.session.add_all(PostRevision(post_id=post_id, number=post.revision_count + i + 1, body_markdown=f"Fassung {i}",
                                    editor_id=_cycle(editor_ids, i)) for i in range(n))
    post.revision_count += n
    post.edited_at, post.edited_by_id = utcnow(), editor_ids[0]
    db.session.commit()


def reactions(post_ids: list[int], user_ids: list[int], kinds=("hilfreich", "daumen", "herz", "idee")) -> None:
    """Every user reacts to every post, with kinds by turns."""
    db.session.add_all(Reaction(post_id=p, user_id=u, kind=kinds[(i + j) % len(kinds)])
                       for i, p in enumerate(post_ids) for j, u in enumerate(user_ids))
    db.session.commit()


def first_posts(thread_ids: list[int]) -> list[int]:
    rows = dict(db.session.execute(select(Thread.id, Thread.first_post_id).where(Thread.id.in_(thread_ids))).all())
    return [rows[t] for t in thread_ids]


# -- notifications, watching, read marks ----------------------------------------------------------

KINDS = ("reply", "mention", "watched_reply", "new_thread", "reaction", "report_outcome", "join_request",
         "moderation", "consent_request")


def notifications(user_id: int, n: int, *, thread_ids: list[int], actor_ids: list[int], cluster_id: int | None,
                  read_every: int = 3) -> None:
    """``n`` notifications of every kind about different threads and actors; every
    ``read_every``-th one read."""
    posts = first_posts(thread_ids)
    now = utcnow()
    rows = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        about_thread = kind not in ("join_request", "moderation")
        rows.append(Notification(
            user_id=user_id, kind=kind, actor_id=_cycle(actor_ids, i), cluster_id=cluster_id,
            thread_id=_cycle(thread_ids, i) if about_thread else None,
            post_id=_cycle(posts, i) if about_thread else None,
            data={"count": 2} if kind == "reaction" else {}, created_at=now - dt.timedelta(minutes=n - i),
            read_at=now if i % read_every == 0 else None, mail_state="none"))
    db.session.add_all(rows)
    db.session.commit()


def watches(user_id: int, target_type: str, target_ids: list[int], level: str = "watching") -> None:
    db.session.add_all(Watch(user_id=user_id, target_type=target_type, target_id=t, level=level) for t in target_ids)
    db.session.commit()


# -- moderation ------------------------------------------------------------------------------

def reports(cluster_id: int | None, post_ids: list[int], reporter_ids: list[int], *,
            resolved_by: int | None = None) -> None:
    """One report per post, by turns of the reporters; with ``resolved_by`` every other one resolved."""
    now = utcnow()
    rows = []
    for i, post_id in enumerate(post_ids):
        report = Report(post_id=post_id, cluster_id=cluster_id, reporter_id=_cycle(reporter_ids, i),
                        reason=("spam", "beleidigend", "vertraulich", "sonstiges")[i % 4], text="Bitte prüfen")
        if resolved_by is not None and i % 2:
            report.state, report.resolved_at, report.resolved_by_id = "resolved", now, resolved_by
            report.action = "keep"
        rows.append(report)
    db.session.add_all(rows)
    db.session.commit()


LOG_ACTIONS = (("thread.lock", "thread"), ("post.hide", "post"), ("thread.pin", "thread"), ("post.delete", "post"),
               ("member.suspend", "user"), ("thread.move", "thread"), ("post.edit", "post"), ("board.archive", "board"))


def modlog(cluster_id: int | None, actor_ids: list[int], n: int, *, thread_ids: list[int], post_ids: list[int],
           user_ids: list[int], board_ids: list[int]) -> None:
    targets = {"thread": thread_ids, "post": post_ids, "user": user_ids, "board": board_ids}
    now = utcnow()
    rows = []
    for i in range(n):
        action, target_type = LOG_ACTIONS[i % len(LOG_ACTIONS)]
        target_id = _cycle(targets[target_type], i)
        details = {"thread_id": _cycle(thread_ids, i)} if target_type == "post" else {}
        rows.append(ModerationLogEntry(actor_id=_cycle(actor_ids, i), cluster_id=cluster_id, action=action,
                                       target_type=target_type, target_id=target_id, reason="Begründung",
                                       details=details, created_at=now - dt.timedelta(minutes=n - i)))
    db.session.add_all(rows)
    db.session.commit()


def best_practice(thread_ids: list[int]) -> None:
    db.session.execute(update(Thread).where(Thread.id.in_(thread_ids)).values(is_best_practice=True))
    db.session.commit()


# -- joining ---------------------------------------------------------------------------------

def join_requests(cluster_id: int, user_ids: list[int]) -> None:
    db.session.add_all(JoinRequest(cluster_id=cluster_id, user_id=u,
                                   message="Wir möchten mitmachen.") for u in user_ids)
    db.session.commit()


def interests(cluster_id: int | None, n: int) -> None:
    db.session.add_all(InterestExpression(
        cluster_id=cluster_id, name=f"Erika {i}", company=f"Malerbetrieb {i}", trade="Maler", region="Münsterland",
        email=f"interesse{next(_seq)}@example.org", topics=["nachfolge", "digitalisierung"]) for i in range(n))
    db.session.commit()

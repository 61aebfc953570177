"""German demo data for trying the forum out (``flask forum seed-demo``, CONTRACT.md).

Everything is created through the services, as a person would create it, so every rule and
counter holds; afterwards the timestamps are spread over the last months so lists look lived
in. The accounts' password is public: the command says so.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import func, select

from forum.demo_content import BOARDS, CLUSTERS, MUENSTERLAND, PEOPLE, PLATFORM
from forum.demo_content_ruhr import RUHRGEBIET
from forum.errors import ConflictError
from forum.extensions import db
from forum.models import Board, Cluster, MembershipRole, Post, Thread, User, utcnow
from forum.services import accounts, clusters, posting

PASSWORD = "demo-passwort"
EMAIL_DOMAIN = "demo.clusterforum.example"
LOGINS = [
    ("demo-admin", "Plattform-Admin, in keinem Cluster Mitglied (sieht deshalb keine Clusterinhalte)"),
    ("demo-manager", "Managerin im Cluster Münsterland"),
    ("demo-member", "Mitglied im Cluster Münsterland"),
    ("demo-outsider", "Mitglied nur im Cluster Ruhrgebiet – sieht das Münsterland nirgends"),
]
# Hours between one post of a thread and the next, in turn: replies come in over a few days.
_GAPS = (3, 7, 1, 12, 5, 2, 20, 4, 9, 6)


@dataclasses.dataclass
class Seeded:
    clusters: int = 0
    boards: int = 0
    threads: int = 0
    posts: int = 0


def exists() -> bool:
    """The demo accounts are there already."""
    return db.session.scalar(select(User.id).where(User.username == PEOPLE["admin"][0])) is not None


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count(User.id))) and not db.session.scalar(select(func.count(Cluster.id)))


def seed(app: Flask) -> Seeded:
    """Creates the demo clusters, accounts, boards and threads; raises ``ServiceError`` if
    something in the way exists already (e.g. a cluster of the same name)."""
    with app.app_context():
        _ensure_free()
        clusters.ensure_themenfelder()
        now = utcnow()
        people = {key: _person(key, now) for key in PEOPLE}
        admin = people["admin"]
        result = Seeded()
        timeline: list[tuple[Thread, list[Post], int]] = []
        for spec, threads in zip(CLUSTERS, (MUENSTERLAND, RUHRGEBIET), strict=True):
            cluster = clusters.create_cluster(admin, spec["name"], spec["description"], spec["region"])
            cluster.created_at = now - dt.timedelta(days=180)
            clusters.add_member(clusters.SETUP, cluster, people[spec["manager"]], MembershipRole.MANAGER)
            for key in spec["members"]:
                clusters.add_member(clusters.SETUP, cluster, people[key])
            boards = [clusters.create_board(admin, cluster, name, description) for name, description in BOARDS]
            result.clusters += 1
            result.boards += len(boards)
            for thread_spec in threads:
                timeline.append(_thread(people, boards[thread_spec["board"]], thread_spec))
        platform = db.session.scalar(select(Board).where(Board.cluster_id.is_(None)).order_by(Board.id).limit(1))
        for thread_spec in PLATFORM:
            timeline.append(_thread(people, platform, thread_spec))
        for thread, posts, days in timeline:
            _backdate(thread, posts, now - dt.timedelta(days=days))
            result.threads += 1
            result.posts += len(posts)
        for user in people.values():
            user.created_at = now - dt.timedelta(days=180)
            for membership in user.memberships:
                membership.joined_at = now - dt.timedelta(days=170)
        db.session.commit()
        return result


def _ensure_free() -> None:
    """The services commit step by step; checking first keeps a clash from leaving half a demo."""
    names = [spec["name"] for spec in CLUSTERS]
    taken = db.session.scalar(select(Cluster.name).where(func.lower(Cluster.name).in_([n.lower() for n in names])))
    if taken:
        raise ConflictError(_("Einen Cluster „%(name)s“ gibt es schon.", name=taken))
    usernames = [person[0] for person in PEOPLE.values()]
    taken = db.session.scalar(select(User.username).where(User.username.in_(usernames)))
    if taken:
        raise ConflictError(_("Den Benutzernamen „%(name)s“ gibt es schon.", name=taken))


def _person(key: str, now: dt.datetime) -> User:
    username, display_name, company, trade, region = PEOPLE[key]
    return accounts.create_user(username, f"{username}@{EMAIL_DOMAIN}", PASSWORD, display_name=display_name,
                                company=company, trade=trade, region=region, is_admin=key == "admin")


def _thread(people: dict[str, User], board: Board, spec: dict) -> tuple[Thread, list[Post], int]:
    thread = posting.create_thread(people[spec["author"]], board, spec["title"], spec["body"], spec["tags"])
    posts = [db.session.get(Post, thread.first_post_id)]

    def answer(parent: Post, replies: list) -> None:
        for author, body, children in replies:
            post = posting.reply(people[author], thread, body, parent.id)
            posts.append(post)
            answer(post, children)

    answer(posts[0], spec["replies"])
    return thread, posts, spec["days"]


def _backdate(thread: Thread, posts: list[Post], start: dt.datetime) -> None:
    """Posts in creation order (ids ascending), so times ascend as in a real discussion."""
    moment = start.replace(hour=7, minute=12 + thread.id % 40, second=0)
    for index, post in enumerate(posts):
        if index:
            moment += dt.timedelta(hours=_GAPS[(index + thread.id) % len(_GAPS)], minutes=7 * index % 50)
        post.created_at = moment
    thread.created_at = posts[0].created_at
    thread.last_activity_at = posts[-1].created_at
    thread.last_poster_id = posts[-1].author_id

"""Test data built through the same services the app uses, so tests exercise real rules."""
from __future__ import annotations

import dataclasses
import itertools

from forum.extensions import db
from forum.models import Board, Cluster, MembershipRole, Post, Thread, User
from forum.services import accounts, clusters, posting

PASSWORD = "richtig-geheim-42"
_seq = itertools.count(1)
SYSTEM = clusters.SETUP   # set-up steps as the platform itself, not as a person


def seed_basics() -> None:
    clusters.ensure_themenfelder()


def user(username: str | None = None, *, admin: bool = False, **profile) -> User:
    n = next(_seq)
    username = username or f"nutzer{n}"
    profile.setdefault("display_name", username.replace(".", " ").title())
    return accounts.create_user(username, f"{username}@example.org", PASSWORD, is_admin=admin, **profile)


def cluster(name: str | None = None, **kwargs) -> Cluster:
    return clusters.create_cluster(SYSTEM, name or f"Cluster {next(_seq)}", **kwargs)


def board(cluster_: Cluster | None, name: str | None = None) -> Board:
    return clusters.create_board(SYSTEM, cluster_, name or f"Brett {next(_seq)}")


def member(cluster_: Cluster, user_: User, role: str = "member") -> User:
    clusters.add_member(SYSTEM, cluster_, user_, MembershipRole(role))
    return user_


def thread(board_: Board, author: User, title: str | None = None, body: str = "Eröffnungsbeitrag", tags=None) -> Thread:
    return posting.create_thread(author, board_, title or f"Thema {next(_seq)}", body, tags)


def reply(thread_: Thread, author: User, body: str = "Eine Antwort", parent: Post | None = None) -> Post:
    return posting.reply(author, thread_, body, parent.id if parent else None)


def first_post(thread_: Thread) -> Post:
    return db.session.get(Post, thread_.first_post_id)


@dataclasses.dataclass
class World:
    """Cluster A (Münsterland) and B (Ruhrgebiet), each with a board and a thread, and:
    ``member`` and ``manager`` of A, ``outsider`` (member of B only), ``manager_b`` (manager of
    B only), ``admin`` (platform admin, member of no cluster), ``loner`` (no cluster), and a
    platform-wide board with a thread."""
    cluster_a: Cluster
    cluster_b: Cluster
    board_a: Board
    board_b: Board
    platform_board: Board
    thread_a: Thread
    thread_b: Thread
    platform_thread: Thread
    member: User
    manager: User
    outsider: User
    manager_b: User
    admin: User
    loner: User


def build_world() -> World:
    a = cluster("Cluster Münsterland", region="Münsterland")
    b = cluster("Cluster Ruhrgebiet", region="Ruhrgebiet")
    board_a = board(a, "Nachwuchs gewinnen")
    board_b = board(b, "Energie und Klima")
    platform = db.session.query(Board).filter(Board.cluster_id.is_(None)).one()
    member_ = member(a, user("mia.member", company="Tischlerei Member", trade="Tischler"))
    manager = member(a, user("max.manager"), "manager")
    outsider = member(b, user("otto.outsider"))
    manager_b = member(b, user("berta.manager"), "manager")
    admin = user("ada.admin", admin=True)
    loner = user("lars.loner")
    return World(
        cluster_a=a, cluster_b=b, board_a=board_a, board_b=board_b, platform_board=platform,
        thread_a=thread(board_a, member_, "Azubis finden im Münsterland", "Wie findet ihr Auszubildende?"),
        thread_b=thread(board_b, outsider, "Wärmepumpe im Altbau", "Erfahrungen mit Wärmepumpen?"),
        platform_thread=thread(platform, manager, "Austausch über Clustergrenzen", "Hallo zusammen!"),
        member=member_, manager=manager, outsider=outsider, manager_b=manager_b, admin=admin, loner=loner,
    )

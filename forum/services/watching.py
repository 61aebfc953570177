"""Watching threads, boards and clusters at the levels beobachten / normal / stumm.

The most specific row decides: a thread's own level, else its board's, else its cluster's,
else "normal" (replies to one's own posts and mentions only)."""
from __future__ import annotations

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from forum import permissions
from forum.errors import ValidationError
from forum.extensions import db
from forum.models import Board, Cluster, Thread, Watch, utcnow
from forum.permissions import Viewer

WATCHING, NORMAL, MUTED = "watching", "normal", "muted"
LEVELS = (WATCHING, NORMAL, MUTED)
LEVEL_LABELS = {WATCHING: _l("Beobachten"), NORMAL: _l("Normal"), MUTED: _l("Stumm")}
LEVEL_HELP = {
    WATCHING: _l("Sie werden über jeden neuen Beitrag und jedes neue Thema benachrichtigt."),
    NORMAL: _l("Nur Antworten auf Ihre Beiträge und Erwähnungen."),
    MUTED: _l("Keine Benachrichtigungen."),
}
TARGETS = ("thread", "board", "cluster")
_SPECIFICITY = {"thread": 3, "board": 2, "cluster": 1}


def dialect_insert(model):
    """INSERT with ON CONFLICT for the database in use (SQLite and PostgreSQL share the API)."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(model)


def _targets(thread: Thread) -> list:
    clauses = [and_(Watch.target_type == "thread", Watch.target_id == thread.id),
               and_(Watch.target_type == "board", Watch.target_id == thread.board_id)]
    if thread.board.cluster_id is not None:
        clauses.append(and_(Watch.target_type == "cluster", Watch.target_id == thread.board.cluster_id))
    return clauses


def effective_levels(thread: Thread) -> dict[int, str]:
    """Every explicit level that applies to the thread, per person, in one query."""
    best: dict[int, tuple[int, str]] = {}
    rows = db.session.execute(select(Watch.user_id, Watch.target_type, Watch.level).where(or_(*_targets(thread))))
    for user_id, target_type, level in rows:
        rank = _SPECIFICITY[target_type]
        if user_id not in best or rank > best[user_id][0]:
            best[user_id] = (rank, level)
    return {user_id: level for user_id, (_rank, level) in best.items()}


def board_watchers(board: Board) -> dict[int, str]:
    """Levels for a new thread in ``board``: the board's own rows beat the cluster's."""
    clauses = [and_(Watch.target_type == "board", Watch.target_id == board.id)]
    if board.cluster_id is not None:
        clauses.append(and_(Watch.target_type == "cluster", Watch.target_id == board.cluster_id))
    best: dict[int, tuple[int, str]] = {}
    for user_id, target_type, level in db.session.execute(
            select(Watch.user_id, Watch.target_type, Watch.level).where(or_(*clauses))):
        rank = _SPECIFICITY[target_type]
        if user_id not in best or rank > best[user_id][0]:
            best[user_id] = (rank, level)
    return {user_id: level for user_id, (_rank, level) in best.items()}


def auto_watch(user_id: int, thread_id: int) -> None:
    """Starting or answering a thread watches it, unless the person chose a level already."""
    db.session.execute(
        dialect_insert(Watch).values(user_id=user_id, target_type="thread", target_id=thread_id, level=WATCHING,
                                     created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["user_id", "target_type", "target_id"])
    )


def own_level(user: Viewer, target_type: str, target_id: int) -> str | None:
    if not user.is_member:
        return None
    return db.session.scalar(select(Watch.level).where(
        Watch.user_id == user.id, Watch.target_type == target_type, Watch.target_id == target_id))


def _target(target_type: str, target_id: int):
    model = {"thread": Thread, "board": Board, "cluster": Cluster}.get(target_type)
    return db.session.get(model, target_id) if model is not None else None


def set_level(user: Viewer, target_type: str, target_id: int, level: object) -> str:
    """Sets the viewer's level; 404 for what they cannot see."""
    target = _target(target_type, target_id) if target_type in TARGETS else None
    permissions.ensure_visible(target is not None and permissions.can_watch(user, target_type, target))
    if level not in LEVELS:
        raise ValidationError(_("Unbekannte Stufe; erlaubt sind „watching“, „normal“ und „muted“."), "level")
    db.session.execute(
        dialect_insert(Watch).values(user_id=user.id, target_type=target_type, target_id=target_id, level=level,
                                     created_at=utcnow())
        .on_conflict_do_update(index_elements=["user_id", "target_type", "target_id"], set_={"level": level})
    )
    db.session.commit()
    return level

"""Boards of a cluster (its managers) and the platform-wide boards (admins): create, rename,
describe, reorder, archive. An archived board can be read but takes no new threads or replies."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from forum import permissions
from forum.errors import ConflictError, NotAllowedError, ValidationError
from forum.extensions import db
from forum.models import Board, Cluster
from forum.permissions import Viewer
from forum.services import modlog, validation


def _same_place(cluster_id: int | None):
    return Board.cluster_id.is_(None) if cluster_id is None else Board.cluster_id == cluster_id


def boards(actor: Viewer, cluster: Cluster | None) -> list[Board]:
    cluster_id = cluster.id if cluster else None
    permissions.ensure_visible(permissions.can_manage_boards(actor, cluster_id))
    return list(db.session.scalars(select(Board).where(_same_place(cluster_id)).order_by(Board.position, Board.id)))


def board_in(actor: Viewer, cluster: Cluster | None, board_id: int) -> Board:
    """One board of the place the actor manages; anything else is not found."""
    cluster_id = cluster.id if cluster else None
    board = db.session.get(Board, board_id)
    permissions.ensure_visible(board is not None and board.cluster_id == cluster_id
                               and permissions.can_manage_boards(actor, cluster_id))
    return board


def _clean(name: object, description: object) -> tuple[str, str]:
    return (validation.text(name, "name", _("Der Name"), max_length=160),
            validation.text(description, "description", _("Die Beschreibung"), max_length=2000, required=False,
                            multiline=True))


def _name_taken(cluster_id: int | None, name: str, except_id: int | None = None) -> bool:
    query = select(Board.id).where(_same_place(cluster_id), func.lower(Board.name) == name.lower())
    if except_id is not None:
        query = query.where(Board.id != except_id)
    return db.session.scalar(query.limit(1)) is not None


def create(actor: Viewer, cluster: Cluster | None, name: object, description: object = "") -> Board:
    cluster_id = cluster.id if cluster else None
    if not permissions.can_manage_boards(actor, cluster_id):
        raise NotAllowedError(_("Sie dürfen hier keine Bretter anlegen."))
    clean_name, clean_description = _clean(name, description)
    base = validation.slugify(clean_name)
    taken_slugs = set(db.session.scalars(select(Board.slug).where(_same_place(cluster_id),
                                                                  Board.slug.like(f"{base}%"))))
    if _name_taken(cluster_id, clean_name):
        raise ConflictError(_("Ein Brett mit diesem Namen gibt es hier schon."), "name")
    slug, n = base, 2
    while slug in taken_slugs:
        slug, n = f"{base[:75]}-{n}", n + 1
    position = db.session.scalar(select(func.coalesce(func.max(Board.position), -1) + 1).where(_same_place(cluster_id)))
    board = Board(cluster_id=cluster_id, name=clean_name, slug=slug, description=clean_description, position=position)
    db.session.add(board)
    db.session.flush()
    modlog.record(actor, cluster_id, "board.create", "board", board.id, "", name=clean_name)
    db.session.commit()
    return board


def update(actor: Viewer, board: Board, name: object, description: object) -> Board:
    permissions.ensure_visible(permissions.can_manage_boards(actor, board.cluster_id))
    clean_name, clean_description = _clean(name, description)
    if _name_taken(board.cluster_id, clean_name, board.id):
        raise ConflictError(_("Ein Brett mit diesem Namen gibt es hier schon."), "name")
    if (clean_name, clean_description) != (board.name, board.description):
        modlog.record(actor, board.cluster_id, "board.edit", "board", board.id, "", before=board.name, after=clean_name)
        board.name, board.description = clean_name, clean_description
    db.session.commit()
    return board


def move(actor: Viewer, board: Board, direction: object) -> Board:
    """One place up or down; positions are renumbered 0, 1, 2 … on the way."""
    permissions.ensure_visible(permissions.can_manage_boards(actor, board.cluster_id))
    if direction not in ("up", "down"):
        raise ValidationError(_("Die Richtung muss „up“ oder „down“ sein."), "direction")
    ordered = list(db.session.scalars(select(Board).where(_same_place(board.cluster_id))
                                      .order_by(Board.position, Board.id).with_for_update()))
    index = ordered.index(board)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
        for position, item in enumerate(ordered):
            item.position = position
        modlog.record(actor, board.cluster_id, "board.move", "board", board.id, "", direction=direction)
    db.session.commit()
    return board


def set_archived(actor: Viewer, board: Board, archived: bool, reason: object = "") -> Board:
    permissions.ensure_visible(permissions.can_manage_boards(actor, board.cluster_id))
    note = validation.text(reason, "reason", _("Der Grund"), max_length=500, required=False)
    if board.is_archived != archived:
        board.is_archived = archived
        modlog.record(actor, board.cluster_id, "board.archive" if archived else "board.unarchive", "board",
                      board.id, note)
    db.session.commit()
    return board

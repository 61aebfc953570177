"""Clusters, memberships, boards and the Themenfelder (platform administration)."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from forum import permissions
from forum.errors import ConflictError, NotAllowedError
from forum.extensions import db
from forum.models import Board, Cluster, Membership, MembershipRole, Tag, User
from forum.permissions import Viewer
from forum.services import accounts, modlog, validation
from forum.services.notify import notify

THEMENFELDER = [
    ("nachwuchs-und-ausbildung", "Nachwuchs & Ausbildung"),
    ("nachfolge", "Nachfolge"),
    ("kundenbeduerfnisse", "Kundenbedürfnisse"),
    ("klima-und-energie", "Klima & Energie"),
    ("digitalisierung", "Digitalisierung"),
    ("fachkraefte", "Fachkräfte"),
    ("betriebsfuehrung", "Betriebsführung"),
]
PLATFORM_BOARD = ("cluster-uebergreifender-austausch", "Cluster-übergreifender Austausch",
                  "Für alle Mitglieder aller Cluster: Erfahrungen, die über den eigenen Cluster hinaus helfen.")


class _SetUp:
    """The platform's own set-up (the demo data): an admin stand-in without an account. Its
    steps are nobody's action, so they are not logged or announced as an admin's."""
    id = None
    is_admin = True
    is_member = True
    cluster_ids: frozenset[int] = frozenset()
    managed_cluster_ids: frozenset[int] = frozenset()
    writable_cluster_ids: frozenset[int] = frozenset()


SETUP = _SetUp()


def ensure_themenfelder() -> None:
    """Seeds the seven Themenfelder and the platform-wide board; safe to run again."""
    existing = {t.slug: t for t in db.session.scalars(select(Tag))}
    for position, (slug, name) in enumerate(THEMENFELDER):
        tag = existing.get(slug)
        if tag is None:
            db.session.add(Tag(slug=slug, name=name, is_themenfeld=True, position=position))
        else:
            tag.is_themenfeld, tag.position = True, position
    if db.session.scalar(select(Board.id).where(Board.cluster_id.is_(None)).limit(1)) is None:
        slug, name, description = PLATFORM_BOARD
        db.session.add(Board(cluster_id=None, slug=slug, name=name, description=description))
    db.session.commit()


def create_cluster(actor: Viewer, name: object, description: object = "", region: object = "",
                   slug: object = None) -> Cluster:
    if not permissions.can_administer(actor):
        raise NotAllowedError(_("Nur Plattform-Admins legen Cluster an."))
    clean_name = validation.text(name, "name", _("Der Name"), max_length=160)
    clean_slug = validation.slug(slug) if slug else validation.slugify(clean_name)
    if db.session.scalar(select(Cluster.id).where(
            (Cluster.slug == clean_slug) | (func.lower(Cluster.name) == clean_name.lower()))):
        raise ConflictError(_("Einen Cluster mit diesem Namen gibt es schon."), "name")
    cluster = Cluster(name=clean_name, slug=clean_slug,
                      description=validation.text(description, "description", _("Die Beschreibung"), max_length=2000,
                                                  required=False, multiline=True),
                      region=validation.text(region, "region", _("Die Region"), max_length=120, required=False))
    db.session.add(cluster)
    db.session.commit()
    return cluster


def create_board(actor: Viewer, cluster: Cluster | None, name: object, description: object = "") -> Board:
    if (not permissions.can_manage_cluster(actor, cluster.id if cluster else None)
            and not permissions.can_administer(actor)):
        raise NotAllowedError(_("Sie dürfen hier keine Bretter anlegen."))
    clean_name = validation.text(name, "name", _("Der Name"), max_length=160)
    cluster_id = cluster.id if cluster else None
    slug = validation.slugify(clean_name)
    taken = db.session.scalar(select(Board.id).where(Board.cluster_id.is_(cluster_id) if cluster_id is None
                                                      else Board.cluster_id == cluster_id, Board.slug == slug))
    if taken:
        raise ConflictError(_("Ein Brett mit diesem Namen gibt es hier schon."), "name")
    position = db.session.scalar(select(func.coalesce(func.max(Board.position), -1) + 1)
                                 .where(Board.cluster_id == cluster_id if cluster_id else Board.cluster_id.is_(None)))
    board = Board(cluster_id=cluster_id, name=clean_name, slug=slug, position=position,
                  description=validation.text(description, "description", _("Die Beschreibung"), max_length=2000,
                                              required=False, multiline=True))
    db.session.add(board)
    db.session.commit()
    return board


def add_member(actor: Viewer, cluster: Cluster, user: User, role: MembershipRole = MembershipRole.MEMBER) -> Membership:
    """A platform admin (or a manager of the cluster) adds an account, or changes its role. Never
    silent: the cluster's moderation log and the platform log record it, and the cluster's other
    managers are told — above all when an admin adds themselves and so starts reading the cluster.
    A changed role ends the account's API tokens (a token never carries a role it was not issued
    under)."""
    if not (permissions.can_administer(actor) or permissions.can_manage_cluster(actor, cluster.id)):
        raise NotAllowedError(_("Sie dürfen diesem Cluster keine Mitglieder hinzufügen."))
    membership = db.session.scalar(select(Membership).where(Membership.cluster_id == cluster.id,
                                                            Membership.user_id == user.id))
    before = membership.role.value if membership is not None else None
    if membership is None:
        membership = Membership(cluster_id=cluster.id, user_id=user.id, role=role)
        db.session.add(membership)
        user.memberships.append(membership)
    elif membership.role != role:
        membership.role = role
        accounts.end_api_tokens(user.id)
    if before == role.value or actor.id is None:   # nothing changed, or a set-up step without a person
        db.session.commit()
        return membership
    action = "member.admin_self_add" if user.id == actor.id else "member.admin_add"
    for cluster_id in (cluster.id, None):   # the cluster's log and the platform log
        modlog.record(actor, cluster_id, action, "user", user.id, "", cluster=cluster.slug, role=role.value,
                      before=before)
    managers = db.session.scalars(select(Membership.user_id).where(
        Membership.cluster_id == cluster.id, Membership.role == MembershipRole.MANAGER, Membership.user_id != user.id))
    for manager_id in managers:
        notify(manager_id, "admin_membership", actor, cluster_id=cluster.id, member=user.display_name, role=role.value,
               own=user.id == actor.id, cluster_name=cluster.name)
    db.session.commit()
    return membership

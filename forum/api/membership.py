"""/api/v1 for joining and cluster membership (CONTRACT.md rows "invites"), plus read-only
lists of a cluster's members and invitations for its managers. Document: openapi_membership."""
from __future__ import annotations

from flask import abort
from flask_babel import gettext as _
from flask_login import current_user

from forum import limits, permissions
from forum.api import bp, serializers
from forum.api.common import cluster_or_404, json_body, page_args, page_of, string_field
from forum.auth import is_token_request, viewer
from forum.errors import ConflictError, NotAllowedError
from forum.extensions import limiter
from forum.models import Invitation, Membership
from forum.models.util import isoformat
from forum.services import members as members_service, membership

MAX_TOKEN = 400


def _membership(item: Membership) -> dict:
    return {"cluster": serializers.cluster(item.cluster), "role": item.role.value, "state": item.state.value}


def _invitation(item: Invitation) -> dict:
    return {"id": item.id, "email": item.email, "role": item.role.value, "state": item.state.value,
            "sent_at": isoformat(item.sent_at), "expires_at": isoformat(item.expires_at),
            "accepted_by": serializers.author(item.accepted_by)}


def _member(item: Membership) -> dict:
    return {"user": serializers.author(item.user), "role": item.role.value,
            "state": "active" if item.is_active else "suspended",
            "suspension_reason": item.suspension_reason if not item.is_active else "",
            "suspended_until": isoformat(item.suspended_until) if not item.is_active else None,
            "joined_at": isoformat(item.joined_at), "last_seen_at": isoformat(item.user.last_seen_at)}


def _ensure_manager(cluster) -> None:
    if not permissions.can_manage_members(viewer(), cluster.id):
        raise NotAllowedError(_("Nur die Clustermanager:innen dürfen das."))


@bp.post("/clusters/<slug>/invites")
@limits.invitations
def create_invite(slug: str):
    cluster = cluster_or_404(slug)
    data = json_body()
    email = string_field(data, "email")
    role = data.get("role", "member")
    _ensure_manager(cluster)
    created = membership.invite(viewer(), cluster, [email], role)
    if not created:
        raise ConflictError(_("Diese Person gehört schon zum Cluster."), "email")
    return {"invite_url": membership.invite_url(created[0])}, 201


@bp.get("/clusters/<slug>/invites")
def list_invites(slug: str):
    cluster = cluster_or_404(slug)
    _ensure_manager(cluster)
    page, per_page = page_args(50)
    rows = membership.invitations(viewer(), cluster)
    chunk = rows[(page - 1) * per_page:page * per_page]
    return page_of([_invitation(i) for i in chunk], page, per_page, len(rows))


@bp.get("/clusters/<slug>/members")
def list_members(slug: str):
    cluster = cluster_or_404(slug)
    _ensure_manager(cluster)
    page, per_page = page_args(50)
    rows = members_service.members(viewer(), cluster)
    chunk = rows[(page - 1) * per_page:page * per_page]
    return page_of([_member(m) for m in chunk], page, per_page, len(rows))


@bp.post("/invites/<token>/accept")
@limiter.limit("10 per minute")
def accept_invite(token: str):
    """Signed in (token or session): join. Otherwise a new account from the body."""
    if len(token) > MAX_TOKEN:
        token = ""
    if current_user.is_authenticated:
        return _membership(membership.accept(viewer(), token))
    if is_token_request():
        abort(401, _("Das Zugangstoken ist ungültig oder abgelaufen."))
    data = json_body()
    values = {"username": string_field(data, "username"), "password": string_field(data, "password")}
    for name in ("display_name", "company", "trade", "region"):
        values[name] = string_field(data, name, required=False) or ""
    _user, joined = membership.register(token, values)
    return _membership(joined)

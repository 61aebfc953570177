"""Model objects as the JSON the API promises (schemas in ``forum/api/openapi.py``).

Every cluster, board, thread and post carries ``url``: the relative path of its web page.
What a caller may read is decided by ``forum.permissions``; these functions only shape it.
"""
from __future__ import annotations

from flask import url_for

from forum import permissions
from forum.models import ApiToken, Board, Cluster, Post, PostRevision, Tag, Thread, User
from forum.models.util import isoformat
from forum.permissions import Viewer


def author(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"username": user.username, "display_name": user.display_name, "company": user.company,
            "trade": user.trade}


def cluster(item: Cluster) -> dict:
    return {
        "id": item.id,
        "slug": item.slug,
        "name": item.name,
        "description": item.description,
        "region": item.region,
        "created_at": isoformat(item.created_at),
        "url": url_for("clusters.show", slug=item.slug, _external=False),
    }


def board(item: Board) -> dict:
    return {
        "id": item.id,
        "cluster_id": item.cluster_id,
        "slug": item.slug,
        "name": item.name,
        "description": item.description,
        "is_archived": item.is_archived,
        "thread_count": item.thread_count,
        "post_count": item.post_count,
        "url": url_for("clusters.board", board_id=item.id, _external=False),
    }


def tag(item: Tag) -> dict:
    return {"slug": item.slug, "name": item.name}


def thread(item: Thread) -> dict:
    return {
        "id": item.id,
        "board_id": item.board_id,
        "title": item.title,
        "author": author(item.author),
        "tags": [tag(t) for t in item.tags],
        "is_pinned": item.is_pinned,
        "is_locked": item.is_locked,
        "reply_count": item.reply_count,
        "first_post_id": item.first_post_id,
        "created_at": isoformat(item.created_at),
        "last_activity_at": isoformat(item.last_activity_at),
        "last_poster": author(item.last_poster),
        "url": url_for("threads.show", thread_id=item.id, _external=False),
        # -- moderation
        "lock_reason": item.lock_reason,
        "is_best_practice": item.is_best_practice,
        "solution_post_id": item.solution_post_id,
    }


def post(viewer: Viewer, item: Post) -> dict:
    """Deleted posts keep their place with an empty body; a hidden post's text goes only to
    those who may read it (its author and the moderators)."""
    if item.is_deleted or item.is_hidden and not permissions.can_read_hidden_post(viewer, item):
        body_html = ""
    else:
        body_html = item.body_html
    return {
        "id": item.id,
        "thread_id": item.thread_id,
        "parent_id": item.parent_id,
        "reply_to_id": item.answers_id,   # differs from parent_id past the depth cap
        "depth": item.depth,
        "author": author(item.author),
        "body_html": body_html,
        "created_at": isoformat(item.created_at),
        "edited_at": isoformat(item.edited_at),
        "revision_count": item.revision_count,
        "deleted": item.is_deleted,
        "hidden": item.is_hidden,
        "hidden_reason": item.hidden_reason if item.is_hidden else "",  # -- moderation
        "url": url_for("threads.permalink", post_id=item.id, _external=False),
    }


def revision(item: PostRevision) -> dict:
    return {
        "id": item.id,
        "post_id": item.post_id,
        "number": item.number,
        "body_markdown": item.body_markdown,
        "editor": author(item.editor),
        "created_at": isoformat(item.created_at),
    }


def api_token(item: ApiToken, current_id: int | None) -> dict:
    return {"id": item.id, "name": item.name, "created_at": isoformat(item.created_at),
            "expires_at": isoformat(item.expires_at), "current": item.id == current_id}


def account(user: User, platform_boards: list[Board]) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "company": user.company,
        "trade": user.trade,
        "region": user.region,
        "locale": user.locale,
        "is_admin": user.is_admin,
        "memberships": [
            {"cluster": cluster(m.cluster), "role": m.role.value, "state": m.state.value}
            for m in sorted(user.memberships, key=lambda m: m.cluster.name)
        ],
        "platform_boards": [board(b) for b in platform_boards],
    }


# -- moderation -------------------------------------------------------------------------------

def report(viewer: Viewer, item) -> dict:
    return {
        "id": item.id,
        "post": post(viewer, item.post),
        "reason": item.reason,
        "text": item.text,
        "state": item.state,
        "reporter": author(item.reporter),
        "created_at": isoformat(item.created_at),
        "resolved_at": isoformat(item.resolved_at),
        "resolved_by": author(item.resolved_by),
        "action": item.action,
        "note": item.note,
        "url": url_for("moderation.report", report_id=item.id, _external=False),
    }


def log_entry(item, with_details: bool) -> dict:
    """An admin who does not read the cluster learns who did what and when — not what it touched
    (no target id, no details) nor why (the free-text reason may quote the content)."""
    return {
        "id": item.id,
        "action": item.action,
        "actor": author(item.actor),
        "target_type": item.target_type,
        "target_id": item.target_id if with_details else None,
        "reason": item.reason if with_details else "",
        "details": dict(item.details or {}) if with_details else {},
        "created_at": isoformat(item.created_at),
    }


def proposal(item) -> dict:
    return {
        "id": item.id,
        "thread_id": item.thread_id,
        "target_board_id": item.target_board_id,
        "state": item.state,
        "published_thread_id": item.published_thread_id,
        "created_at": isoformat(item.created_at),
        "decided_at": isoformat(item.decided_at),
        "consents": [{"author": author(c.user), "state": c.state, "decided_at": isoformat(c.decided_at)}
                     for c in item.consents],
        "url": url_for("moderation.proposal", proposal_id=item.id, _external=False),
    }

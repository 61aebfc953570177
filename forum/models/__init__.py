"""Typed models, one file per domain. Import them from here."""
from forum.models.accounts import ApiToken, User
from forum.models.clusters import Board, Cluster, Membership, MembershipRole, MembershipState
from forum.models.imports import ImportRecord
from forum.models.moderation import ModerationLogEntry
from forum.models.notifications import Notification
from forum.models.search import SearchOutbox
from forum.models.threads import Post, PostRevision, Tag, Thread, thread_tags
from forum.models.util import utcnow

__all__ = [
    "ApiToken", "Board", "Cluster", "ImportRecord", "Membership", "MembershipRole", "MembershipState", "ModerationLogEntry",
    "Notification", "Post",
    "PostRevision", "SearchOutbox", "Tag", "Thread", "User", "thread_tags", "utcnow",
]

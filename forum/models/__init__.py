"""Typed models, one file per domain. Import them from here."""
from forum.models.accounts import ApiToken, RecoveryCode, User
from forum.models.clusters import Board, Cluster, Membership, MembershipRole, MembershipState
from forum.models.engagement import BoardRead, Reaction, ThreadRead, Watch  # notifications
from forum.models.imports import ImportRecord
from forum.models.jobs import Job
from forum.models.membership import InterestExpression, Invitation, InvitationState, JoinRequest, RequestState
from forum.models.moderation import ModerationLogEntry
from forum.models.notifications import MailQueue, Notification, NotificationSetting
from forum.models.reports import (  # moderation
    BestPracticeProposal,
    ConsentState,
    ProposalConsent,
    ProposalState,
    Report,
    ReportAction,
    ReportReason,
    ReportState,
)
from forum.models.search import SearchDocument, SearchOutbox, SearchTerm
from forum.models.threads import Post, PostRevision, Tag, Thread, thread_tags
from forum.models.util import utcnow

__all__ = [
    "BestPracticeProposal", "ConsentState", "ProposalConsent", "ProposalState", "Report", "ReportAction",
    "ReportReason", "ReportState",
    "InterestExpression", "Invitation", "InvitationState", "JoinRequest", "RequestState",
    "ApiToken", "RecoveryCode", "Board", "Cluster", "ImportRecord", "Job", "Membership", "MembershipRole",
    "MembershipState", "ModerationLogEntry",
    "Notification", "Post",
    "BoardRead", "MailQueue", "NotificationSetting", "Reaction", "ThreadRead", "Watch",
    "PostRevision", "SearchDocument", "SearchOutbox", "SearchTerm", "Tag", "Thread", "User", "thread_tags", "utcnow",
]

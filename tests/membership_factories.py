"""Test data for cluster management, built through the services like ``tests/factories``."""
from __future__ import annotations

import itertools

from forum.extensions import db
from forum.models import Cluster, InterestExpression, Invitation, JoinRequest, Post, Thread, User
from forum.services import membership
from tests import factories

_seq = itertools.count(1)


def invitation(cluster: Cluster, inviter: User, email: str | None = None, role: str = "member") -> Invitation:
    return membership.invite(inviter, cluster, [email or f"gast{next(_seq)}@example.org"], role)[0]


def join_request(cluster: Cluster, user: User, message: str = "Wir möchten gern mitmachen.") -> JoinRequest:
    return membership.request_join(user, cluster, message)


def interest(cluster: Cluster | None, email: str | None = None) -> InterestExpression:
    return membership.express_interest(
        {"name": "Erika Interessiert", "company": "Malerbetrieb Interessiert", "trade": "Maler",
         "region": "Münsterland", "email": email or f"interesse{next(_seq)}@example.org",
         "cluster": cluster.slug if cluster else "", "topics": ["nachfolge"]},
        {"nachfolge", "digitalisierung"})


def pending_post(thread: Thread, author: User, body: str = "Wartet auf Freigabe") -> Post:
    """A reply held for approval (the cluster asks for one approved post of ``author``)."""
    cluster = thread.board.cluster
    cluster.approval_post_count = 1000
    db.session.commit()
    post = factories.reply(thread, author, body)
    cluster.approval_post_count = 0
    db.session.commit()
    assert post.awaiting_approval
    return post

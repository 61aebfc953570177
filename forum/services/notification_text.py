"""What a notification says and where it leads, for the list, the bell's API and the mails.

Every kind has a sentence; kinds other modules invent get a generic one (or their own
``data["message"]``). A notification about a thread the recipient can no longer see says
only that, without title, text or link."""
from __future__ import annotations

import dataclasses

from flask import url_for
from flask_babel import gettext as _, ngettext
from sqlalchemy import select

from forum import permissions
from forum.extensions import db
from forum.models import Cluster, Notification, Thread
from forum.permissions import Viewer

GROUPED_KINDS = ("reply", "watched_reply")


@dataclasses.dataclass
class Shown:
    """One line of the list: a notification, or several replies in one thread grouped."""
    notification: Notification
    text: str
    url: str | None
    available: bool
    ids: list[int]
    unread: bool

    @property
    def count(self) -> int:
        return len(self.ids)


@dataclasses.dataclass
class Context:
    titles: dict[int, str]
    cluster_slugs: dict[int, tuple[str, str]]


def context_for(user: Viewer, notifications: list[Notification]) -> Context:
    """Two queries for any number of notifications: visible thread titles, visible clusters."""
    thread_ids = {n.thread_id for n in notifications if n.thread_id}
    cluster_ids = {n.cluster_id for n in notifications if n.cluster_id}
    titles = dict(db.session.execute(select(Thread.id, Thread.title).where(
        Thread.id.in_(thread_ids), Thread.board_id.in_(permissions.visible_board_ids(user))
    )).all()) if thread_ids else {}
    clusters = {cid: (slug, name) for cid, slug, name in db.session.execute(
        select(Cluster.id, Cluster.slug, Cluster.name).where(
            Cluster.id.in_(cluster_ids), Cluster.id.in_(permissions.visible_cluster_ids(user))))} if cluster_ids else {}
    return Context(titles, clusters)


def _actor(n: Notification) -> str:
    return n.actor.display_name if n.actor is not None else _("Jemand")


def describe(n: Notification, ctx: Context, count: int = 1) -> tuple[str, str | None, bool]:
    """(text, link, available) for one notification (or ``count`` grouped replies)."""
    if n.thread_id is not None and n.thread_id not in ctx.titles:
        return _("Ein Inhalt, der Ihnen nicht mehr zugänglich ist."), None, False
    title = ctx.titles.get(n.thread_id, "")
    actor = _actor(n)
    data = n.data if isinstance(n.data, dict) else {}
    if count > 1 and n.kind in GROUPED_KINDS:
        text = ngettext("%(num)s neue Antwort in „%(title)s“", "%(num)s neue Antworten in „%(title)s“", count,
                        title=title)
    elif n.kind == "reply":
        text = _("%(actor)s hat in Ihrem Thema oder auf Ihren Beitrag in „%(title)s“ geantwortet.", actor=actor,
                 title=title)
    elif n.kind == "watched_reply":
        text = _("%(actor)s hat in „%(title)s“ geantwortet.", actor=actor, title=title)
    elif n.kind == "mention":
        text = _("%(actor)s hat Sie in „%(title)s“ erwähnt.", actor=actor, title=title)
    elif n.kind == "new_thread":
        text = _("%(actor)s hat das neue Thema „%(title)s“ begonnen.", actor=actor, title=title)
    elif n.kind == "reaction":
        others = int(data.get("count", 1)) - 1 if str(data.get("count", "1")).isdigit() else 0
        if others > 0:
            text = ngettext("%(actor)s und %(num)s weitere Person haben auf Ihren Beitrag in „%(title)s“ reagiert.",
                            "%(actor)s und %(num)s weitere Personen haben auf Ihren Beitrag in „%(title)s“ reagiert.",
                            others, actor=actor, title=title)
        else:
            text = _("%(actor)s hat auf Ihren Beitrag in „%(title)s“ reagiert.", actor=actor, title=title)
    elif n.kind == "admin_membership":
        text = _admin_membership(actor, data)
    else:
        text = _generic(n, ctx, title, data)
    return text, _link(n, ctx, data), True


def _admin_membership(actor: str, data: dict) -> str:
    """A platform admin joined the cluster, or added someone, or changed a role."""
    role = _("Clustermanager:in") if data.get("role") == "manager" else _("Mitglied")
    cluster = str(data.get("cluster_name", ""))
    if data.get("own"):
        return _("%(actor)s (Plattform-Admin) ist „%(cluster)s“ als %(role)s beigetreten und kann jetzt alles darin "
                 "lesen.", actor=actor, cluster=cluster, role=role)
    return _("%(actor)s (Plattform-Admin) hat %(member)s in „%(cluster)s“ als %(role)s eingetragen.",
             actor=actor, member=str(data.get("member", "")), cluster=cluster, role=role)


def _generic(n: Notification, ctx: Context, title: str, data: dict) -> str:
    own = next((data[key] for key in ("message", "text", "summary") if isinstance(data.get(key), str) and data[key]),
               None)
    if own:
        return own
    base = {
        "report_outcome": _("Ihre Meldung wurde bearbeitet"),
        "consent_request": _("Ihre Zustimmung wird erbeten"),
        "join_request": _("Neue Beitrittsanfrage"),
        "moderation": _("Eine Moderationsentscheidung betrifft Sie"),
    }.get(n.kind, _("Neue Benachrichtigung"))
    if title:
        return _("%(base)s: „%(title)s“", base=base, title=title)
    if n.cluster_id in ctx.cluster_slugs:
        return _("%(base)s im Cluster %(cluster)s", base=base, cluster=ctx.cluster_slugs[n.cluster_id][1])
    return base + "."


def _link(n: Notification, ctx: Context, data: dict) -> str | None:
    if n.post_id is not None and n.thread_id in ctx.titles:
        return url_for("threads.permalink", post_id=n.post_id)
    if n.thread_id is not None and n.thread_id in ctx.titles:
        return url_for("threads.show", thread_id=n.thread_id)
    own = data.get("url")
    if isinstance(own, str) and own.startswith("/") and not own.startswith("//"):
        return own
    if n.cluster_id in ctx.cluster_slugs:
        return url_for("clusters.show", slug=ctx.cluster_slugs[n.cluster_id][0])
    return None


def present(user: Viewer, notifications: list[Notification], *, group: bool = True,
            ctx: Context | None = None) -> list[Shown]:
    """Lines for the list: consecutive replies in the same thread with the same read state
    become one line ("3 neue Antworten in …") that links to the earliest of them. The mail
    worker passes ``ctx`` built for a whole batch (``mail_content``) instead of two queries."""
    ctx = ctx if ctx is not None else context_for(user, notifications)
    lines: list[Shown] = []
    buckets: dict[tuple, Shown] = {}
    for n in notifications:
        key = (n.thread_id, n.read_at is None)
        if group and n.kind in GROUPED_KINDS and n.thread_id in ctx.titles and key in buckets:
            line = buckets[key]
            line.ids.append(n.id)
            line.notification = n  # newest first: the last one seen is the earliest reply
            line.text, line.url, _available = describe(n, ctx, line.count)
            continue
        text, url, available = describe(n, ctx)
        line = Shown(n, text, url, available, [n.id], n.read_at is None)
        lines.append(line)
        if group and n.kind in GROUPED_KINDS and available:
            buckets[key] = line
    return lines

"""``@username`` in posts: who is meant, who may be told, and the links in the HTML.

A mention notifies only people who can see the thread and whose profile the author may see;
for everyone else (and for names nobody has) the author hears the same sentence, so a
mention never reveals whether a person exists or can read along."""
from __future__ import annotations

import re

from flask import flash, g, has_request_context, url_for
from flask_babel import ngettext
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from forum import permissions
from forum.extensions import db
from forum.models import Membership, Thread, User

MENTION_RE = re.compile(r"(?<![\w@./+-])@([A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*)")
MAX_MENTIONS = 20
_SKIP = ("a", "code", "pre")
# "[^<>]", not "[^>]": on a run of "<" the latter scans to the end from each one (quadratic,
# 50,000 took seconds); rendered HTML escapes every "<" that does not open a tag.
_PARTS = re.compile(r"(<[^<>]*>)")
_TAG_NAME = re.compile(r"^<\s*(/?)\s*([a-zA-Z0-9]+)")


def _text_segments(html: str):
    """(segment, mentionable) pairs: text outside links and code may hold mentions."""
    skipping = 0
    for part in _PARTS.split(html):
        if part.startswith("<"):
            match = _TAG_NAME.match(part)
            if match and match.group(2).lower() in _SKIP and not part.endswith("/>"):
                skipping += -1 if match.group(1) else 1
                skipping = max(skipping, 0)
            yield part, False
        else:
            yield part, skipping == 0


def find(html: str) -> list[str]:
    """Mentioned names (lower case, first occurrence order, at most MAX_MENTIONS)."""
    names: dict[str, None] = {}
    for segment, mentionable in _text_segments(html):
        if mentionable:
            for match in MENTION_RE.finditer(segment):
                names.setdefault(match.group(1).lower(), None)
    return list(names)[:MAX_MENTIONS]


def _profile_path(username: str) -> str:
    try:
        return url_for("accounts.profile", username=username)
    except RuntimeError:  # no request and no SERVER_NAME (a script): the same path by hand
        return f"/u/{username}"


def link(html: str, usernames: set[str]) -> str:
    """Turns ``@name`` into a profile link for the names given (already checked)."""
    if not usernames:
        return html

    def replace(match: re.Match) -> str:
        name = match.group(1).lower()
        if name not in usernames:
            return match.group(0)
        return f'<a class="mention" href="{escape(_profile_path(name))}">@{escape(match.group(1))}</a>'

    return "".join(MENTION_RE.sub(replace, segment) if mentionable else segment
                   for segment, mentionable in _text_segments(html))


def resolve(author, thread: Thread, names: list[str]) -> tuple[list[User], list[str]]:
    """(people to notify, names typed that notify nobody). The author is neither."""
    if not names:
        return [], []
    found = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(names)))}
    reachable: list[User] = []
    unreachable: list[str] = []
    for name in names:
        person = found.get(name)
        if person is not None and person.id == author.id:
            continue
        if (person is not None and person.is_member and permissions.can_view_thread(person, thread)
                and permissions.can_view_profile(author, person)):
            reachable.append(person)
        else:
            unreachable.append(name)
    return reachable, unreachable


# -- telling the author ----------------------------------------------------------------------

def remember_unnotified(names: list[str]) -> None:
    if has_request_context():
        g.unnotified_mentions = list(names)


def unnotified() -> list[str]:
    return list(g.get("unnotified_mentions", [])) if has_request_context() else []


def api_fields() -> dict:
    """Extra field for the API's answer to a new post or thread."""
    return {"unnotified_mentions": unnotified()}


def flash_unnotified() -> None:
    names = unnotified()
    if names:
        flash(ngettext(
            "%(names)s wurde nicht benachrichtigt: Diese Person kann das Thema nicht sehen oder es gibt sie nicht.",
            "%(names)s wurden nicht benachrichtigt: Diese Personen können das Thema nicht sehen oder es gibt sie "
            "nicht.",
            len(names), names=", ".join(f"@{n}" for n in names)), "info")


def candidates(viewer, thread: Thread | None, board, prefix: str, limit: int = 8) -> list[User]:
    """Autocompletion: people who can see the thread (or board) and whom the viewer may see."""
    prefix = prefix.strip().lstrip("@").lower()
    if not prefix or len(prefix) > 40 or not re.fullmatch(r"[a-z0-9._-]+", prefix):
        return []
    target_board = thread.board if thread is not None else board
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (select(User).where(User.suspended_at.is_(None), User.id != viewer.id,
                                User.username.like(f"{escaped}%", escape="\\"))
             .options(selectinload(User.memberships))  # the permission checks below read them
             .order_by(User.username).limit(limit * 4))
    if target_board.cluster_id is not None:
        query = query.where(User.id.in_(
            select(Membership.user_id).where(Membership.cluster_id == target_board.cluster_id)))
    people = []
    for person in db.session.scalars(query):
        visible = (permissions.can_view_thread(person, thread) if thread is not None
                   else permissions.can_view_board(person, target_board))
        if visible and permissions.can_view_profile(viewer, person):
            people.append(person)
        if len(people) == limit:
            break
    return people

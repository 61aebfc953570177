"""What list pages print, prepared once per page in Python.

A thread page shows 20 posts and a board page 25 threads; asking the template to call a
macro, ``url_for``, ``gettext`` and half a dozen permission predicates for each row made
Jinja the largest cost of those pages (about 1 ms per post). Here each row becomes a small
record of plain values: permission answers from ``forum.permissions`` (asked once per row,
never decided here), links built from one ``url_for`` per endpoint and page, dates formatted
without Babel's pattern machinery. The templates loop over these records and print.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from functools import lru_cache
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import current_app, url_for
from markupsafe import Markup

from forum import permissions
from forum.models import Post, Thread, User
from forum.permissions import Viewer
from forum.services.reading import PostRow

_SENTINEL = 987654321
MAX_DEPTH = 6


class Link:
    """``url_for`` once per page for an endpoint with one integer argument; then string
    formatting per row (a tenth of the cost)."""

    __slots__ = ("head", "tail")

    def __init__(self, endpoint: str, key: str, **values) -> None:
        sample = url_for(endpoint, **{key: _SENTINEL}, **values)
        self.head, _sep, self.tail = sample.partition(str(_SENTINEL))

    def __call__(self, value: int | str) -> str:
        return f"{self.head}{value}{self.tail}"


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(value: dt.datetime) -> dt.datetime:
    """Stored times are naive UTC; pages show the configured zone (Europe/Berlin)."""
    return value.replace(tzinfo=dt.UTC).astimezone(_zone(current_app.config["BABEL_DEFAULT_TIMEZONE"]))


def zeit(value: dt.datetime | None) -> Markup:
    """``<time>`` in German format ("25.11.2026, 14:05"), machine-readable in ``datetime``;
    the same pattern in every locale, so no Babel formatting is needed."""
    if value is None:
        return Markup("")
    # digits and punctuation only: nothing to escape
    return Markup(f'<time datetime="{value:%Y-%m-%dT%H:%M:%SZ}">{local_time(value):%d.%m.%Y, %H:%M}</time>')


def datum(value: dt.datetime | None) -> str:
    return "" if value is None else f"{local_time(value):%d.%m.%Y}"


# -- people -------------------------------------------------------------------------------------

class PersonLinks:
    """Profile links of one page, memoised per account (the same names recur in a thread)."""

    def __init__(self, former_label: str) -> None:
        self.profile = Link("accounts.profile", "username")
        self.former = Markup('<span class="person">{}</span>').format(former_label)
        self._cache: dict[int, Markup] = {}

    def __call__(self, user: User | None) -> Markup:
        if user is None:
            return self.former
        html = self._cache.get(user.id)
        if html is None:
            html = Markup('<a class="person" href="{}">{}</a>').format(self.profile(quote(user.username, safe='')),
                                                                       user.display_name)
            self._cache[user.id] = html
        return html


# -- thread pages -------------------------------------------------------------------------------

@dataclasses.dataclass(slots=True)
class PostView:
    post: Post
    depth: int                   # indentation level, capped at MAX_DEPTH
    author: Markup               # person link, or "Gelöscht"
    company: str                 # "Betrieb · Gewerk"
    time: Markup
    answers: Markup | None       # whom it answers (a link to that post), where indentation does not show it
    show_body: bool              # text readable for the viewer
    hidden_notice: bool          # hidden, but readable for the viewer (author, moderators)
    is_solution: bool
    revisions_url: str | None
    reply_url: str | None
    quote_url: str | None
    edit_url: str | None
    delete_url: str | None
    solution_toggle: bool        # the "Lösung" button is shown
    report_url: str | None
    moderate_url: str | None
    reactions: list | None       # reactions.Count per kind, or None where the bar is not shown
    may_react: bool
    reply_label: str = ""


@dataclasses.dataclass(slots=True)
class ThreadView:
    """The thread-wide answers of the permission module, asked once per page."""
    can_reply: bool
    can_mark_solution: bool
    posts: list[PostView]


def thread_posts(viewer: Viewer, thread: Thread, rows: list[PostRow], view: str,
                 reactions: dict[int, list], labels: dict[str, str]) -> ThreadView:
    can_reply = permissions.can_reply(viewer, thread)
    can_mark_solution = permissions.can_mark_solution(viewer, thread)
    person = PersonLinks(labels["former"])
    deleted_author = Markup('<span class="person">{}</span>').format(labels["deleted"])
    permalink = Link("threads.permalink", "post_id")
    revisions = Link("threads.revisions", "post_id")
    reply = Link("threads.reply", "parent", thread_id=thread.id)
    quote = Link("threads.reply", "parent", thread_id=thread.id, zitat=1)
    edit = Link("threads.edit", "post_id")
    delete = Link("threads.delete", "post_id")
    report = Link("moderation.report_post", "post_id")
    moderate = Link("moderation.post_tools", "post_id")
    views = []
    for row in rows:
        p = row.post
        depth = p.depth if view == "tree" else 0
        author = p.author
        deleted = p.is_deleted
        readable = not deleted and (not p.is_hidden or permissions.can_read_hidden_post(viewer, p))
        company = " · ".join(part for part in (author.company, author.trade) if part) if author and not deleted else ""
        answers = (Markup('<a href="{}">{}</a>').format(permalink(p.answers_id), row.parent_author)
                   if row.parent_author and p.depth > 1
                   and (view == "flat" or p.depth > MAX_DEPTH or p.reply_to_id) else None)  # past the depth cap too
        may_edit = not deleted and permissions.can_edit_post(viewer, p)
        views.append(PostView(
            post=p,
            depth=min(depth, MAX_DEPTH),
            author=deleted_author if deleted else person(author),
            company=company,
            time=Markup('<a class="post-link" href="{}" title="{}">{}</a>').format(
                permalink(p.id), labels["permalink"], zeit(p.created_at)),
            answers=answers,
            show_body=readable,
            hidden_notice=readable and p.is_hidden,
            is_solution=thread.solution_post_id == p.id,
            revisions_url=(revisions(p.id) if p.edited and not deleted and permissions.can_view_revisions(viewer, p)
                           else None),
            reply_url=reply(p.id) if can_reply and permissions.can_reply_to_post(viewer, p) else None,
            quote_url=quote(p.id) if can_reply and permissions.can_quote_post(viewer, p) else None,
            edit_url=edit(p.id) if may_edit else None,
            delete_url=delete(p.id) if may_edit and permissions.can_delete_post(viewer, p) else None,
            solution_toggle=(can_mark_solution and not deleted and not p.is_first and not p.is_hidden
                             and not p.awaiting_approval),
            report_url=report(p.id) if not deleted and permissions.can_report_post(viewer, p) else None,
            moderate_url=moderate(p.id) if not deleted and permissions.can_moderate_post(viewer, p) else None,
            reactions=reactions.get(p.id) if not deleted and not p.is_hidden else None,
            may_react=not deleted and permissions.can_react(viewer, p),
            reply_label=labels["reply_to"] % {"name": author.display_name if author else labels["former"]},
        ))
    return ThreadView(can_reply=can_reply, can_mark_solution=can_mark_solution, posts=views)

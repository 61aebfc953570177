"""Read queries for pages and the API: a fixed number of SQL statements per page, keyset
pagination where lists are long, and every list filtered by the permission module's twins."""
from __future__ import annotations

import dataclasses
import datetime as dt
import math

from sqlalchemy import Boolean, DateTime, Integer, Select, and_, bindparam, column, false, func, or_, select
from sqlalchemy.orm import aliased, defer, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from forum import permissions
from forum.extensions import db
from forum.models import Board, Cluster, Membership, Post, PostRevision, Tag, Thread, User, thread_tags
from forum.permissions import Viewer
from forum.services import unions, validation

THREAD_LOADS = (
    joinedload(Thread.author), joinedload(Thread.last_poster), selectinload(Thread.tags),
)


@dataclasses.dataclass
class ThreadList:
    threads: list[Thread]
    next_cursor: str | None
    pinned: list[Thread] = dataclasses.field(default_factory=list)


def _cursor(thread: Thread) -> str:
    return f"{thread.last_activity_at:%Y%m%d%H%M%S}-{thread.id}"


def _parse_cursor(cursor: str | None) -> tuple[dt.datetime, int] | None:
    if not cursor:
        return None
    stamp, _sep, thread_id = cursor.partition("-")
    wanted = validation.object_id(thread_id)   # not "²", not an id beyond the column
    try:
        return (dt.datetime.strptime(stamp, "%Y%m%d%H%M%S"), wanted) if wanted else None
    except ValueError:
        return None


def board_threads(board: Board, *, tag: str | None = None, cursor: str | None = None,
                  per_page: int = 25) -> ThreadList:
    """Pinned threads (first page only), then the rest by last activity, keyset-paginated."""
    base = select(Thread).where(Thread.board_id == board.id).options(*THREAD_LOADS)
    if tag:
        base = base.where(Thread.id.in_(
            select(thread_tags.c.thread_id).join(Tag, Tag.id == thread_tags.c.tag_id).where(Tag.slug == tag)
        ))
    position = _parse_cursor(cursor)
    pinned: list[Thread] = []
    if position is None:
        pinned = list(db.session.scalars(
            base.where(Thread.is_pinned.is_(True)).order_by(Thread.last_activity_at.desc(), Thread.id.desc())
        ))
    query = base.where(Thread.is_pinned.is_(False)).order_by(Thread.last_activity_at.desc(), Thread.id.desc())
    if position is not None:
        stamp, last_id = position
        query = query.where(or_(Thread.last_activity_at < stamp,
                                and_(Thread.last_activity_at == stamp, Thread.id < last_id)))
    rows = list(db.session.scalars(query.limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return ThreadList(threads=rows, next_cursor=_cursor(rows[-1]) if more and rows else None, pinned=pinned)


def board_threads_page(board: Board, page: int, per_page: int) -> tuple[list[Thread], int]:
    """Numbered pages for the API (``total`` is the board's stored thread count)."""
    query = (select(Thread).where(Thread.board_id == board.id).options(*THREAD_LOADS)
             .order_by(Thread.is_pinned.desc(), Thread.last_activity_at.desc(), Thread.id.desc())
             .offset((page - 1) * per_page).limit(per_page))
    return list(db.session.scalars(query)), board.thread_count


def recent_threads(user: Viewer, *, cluster_id: int | None = None, limit: int = 20) -> list[Thread]:
    """Latest activity in every board the viewer may see (or in one cluster)."""
    if cluster_id is not None:
        boards = select(Board.id).where(Board.cluster_id == cluster_id,
                                        Board.id.in_(permissions.visible_board_ids(user)))
    else:
        boards = permissions.visible_board_ids(user)
    board_ids = list(db.session.scalars(boards))
    if not board_ids:
        return []
    newest = Thread.last_activity_at.desc(), Thread.id.desc()
    if len(board_ids) <= MAX_MERGED_BOARDS:
        candidates = _newest_per_board(board_ids, limit)
        where = Thread.id.in_(select(candidates.c.id).order_by(candidates.c.at.desc(),
                                                               candidates.c.id.desc()).limit(limit))
    else:
        where = Thread.board_id.in_(board_ids)
    query = (select(Thread).where(where)
             .options(*THREAD_LOADS, joinedload(Thread.board).joinedload(Board.cluster))
             .order_by(*newest).limit(limit))
    return list(db.session.scalars(query))


MAX_MERGED_BOARDS = unions.MAX_ROWS

# The ``limit`` newest threads of each board, pinned and not, each read in the order of
# ``ix_threads_board_listing``: a bounded walk of the index per board instead of sorting every
# thread of the visible boards (a million posts: 400 ms → 2 ms).
_NEWEST_PER_BOARD = unions.UnionPerRow(
    lambda n: [f"SELECT id, last_activity_at AS at FROM threads WHERE board_id = :r{n} AND is_pinned = :{flag} "
               f"ORDER BY last_activity_at DESC, id DESC LIMIT :newest" for flag in ("unpinned", "pinned")],
    columns=[column("id", Integer), column("at", DateTime)],
    binds=[bindparam("pinned", type_=Boolean), bindparam("unpinned", type_=Boolean)],
)


def _newest_per_board(board_ids: list[int], limit: int):
    return _NEWEST_PER_BOARD.statement(board_ids, pinned=True, unpinned=False, newest=limit).subquery()


def visible_clusters(user: Viewer) -> list[Cluster]:
    return list(db.session.scalars(
        select(Cluster).where(Cluster.id.in_(permissions.visible_cluster_ids(user))).order_by(Cluster.name)
    ))


def platform_boards(user: Viewer) -> list[Board]:
    if not user.is_member:
        return []
    return list(db.session.scalars(
        select(Board).where(Board.cluster_id.is_(None)).order_by(Board.position, Board.id)
    ))


def themenfelder() -> list[Tag]:
    return list(db.session.scalars(select(Tag).where(Tag.is_themenfeld.is_(True)).order_by(Tag.position, Tag.name)))


def cluster_members(cluster: Cluster) -> list[Membership]:
    return list(db.session.scalars(
        select(Membership).where(Membership.cluster_id == cluster.id)
        .options(joinedload(Membership.user))
        .join(User, User.id == Membership.user_id)
        .order_by(Membership.role.desc(), User.display_name)
    ))


# -- thread pages -------------------------------------------------------------------------

@dataclasses.dataclass
class PostRow:
    post: Post
    parent_author: str | None  # whom a reply answers (shown where indentation stops, and past the depth cap)


@dataclasses.dataclass
class ThreadPage:
    rows: list[PostRow]
    page: int
    pages: int
    per_page: int
    total: int


# Built once per process: a fresh alias per request would make SQLAlchemy adapt every column
# again (a third of the statement's cost).
_PARENT = aliased(Post)
_PARENT_AUTHOR = aliased(User)


def _post_rows(query: Select, thread: Thread) -> list[PostRow]:
    """The posts with their authors and whom they answer. Each post's ``thread`` is set to the
    thread already loaded: the permission checks per post would otherwise go through
    SQLAlchemy's lazy-load machinery for it, once per post (an identity-map hit, but a costly one)."""
    parent, parent_author = _PARENT, _PARENT_AUTHOR
    query = (query.outerjoin(parent, parent.id == func.coalesce(Post.reply_to_id, Post.parent_id))
             .outerjoin(parent_author, parent_author.id == parent.author_id)
             .add_columns(parent_author.display_name)
             .options(joinedload(Post.author), defer(Post.body_markdown)))  # pages show the stored HTML
    rows = [PostRow(post, name) for post, name in db.session.execute(query)]
    for row in rows:
        if row.post.thread_id == thread.id:
            set_committed_value(row.post, "thread", thread)
    return rows


def thread_page(thread: Thread, view: str, page: int, per_page: int, viewer: Viewer | None = None) -> ThreadPage:
    """Flat: chronological pages of ``per_page`` posts. Tree: depth-first pages of about
    ``per_page`` posts that never split the subtree of a top-level reply, unless it alone has
    more than ``WHOLE_BRANCH_PAGES * per_page`` posts: then it gets pages of its own,
    ``per_page`` posts each in tree order (issue 15, point 10: one branch 1,000 posts deep made
    a 1.4 MB page). With ``viewer``, posts awaiting approval appear only for their author and
    the moderators."""
    pending = (permissions.pending_posts_condition(viewer, thread.board.cluster_id) if viewer is not None
               else Post.awaiting_approval.is_(False))
    if view == "flat":
        total = thread.reply_count + 1
        pages = max(1, math.ceil(total / per_page))
        page = min(max(page, 1), pages)
        rows = _post_rows(select(Post).where(Post.thread_id == thread.id, pending)
                          .order_by(Post.created_at, Post.id).offset((page - 1) * per_page).limit(per_page), thread)
        return ThreadPage(rows, page, pages, per_page, total)
    layout = _tree_pages(thread, per_page)
    page = min(max(page, 1), len(layout))
    wanted = layout[page - 1]
    if wanted.split is None:
        condition = Post.branch_id.in_(wanted.branches) if wanted.branches else false()
    else:
        condition = Post.branch_id == wanted.split
    if page == 1:
        condition = or_(condition, Post.id == thread.first_post_id)   # first in path order
    query = select(Post).where(Post.thread_id == thread.id, condition, pending).order_by(Post.path)
    if wanted.split is not None:   # one slice of a large branch, read along ix_posts_thread_branch
        # page 1 holds the opening post besides; the last slice also the posts awaiting approval
        # that this viewer sees (branch_size does not count them)
        query = query.offset(wanted.start).limit(per_page + (page == 1) + (per_page if wanted.last else 0))
    return ThreadPage(_post_rows(query, thread), page, len(layout), per_page, thread.reply_count + 1)


def page_of_post(thread: Thread, post: Post, view: str, per_page: int) -> int:
    """The page a post is shown on, so links can jump straight to it."""
    if view == "flat":
        earlier = db.session.scalar(
            select(db.func.count()).select_from(Post)
            .where(Post.thread_id == thread.id, or_(Post.created_at < post.created_at,
                                                    and_(Post.created_at == post.created_at, Post.id < post.id)))
        )
        return (earlier or 0) // per_page + 1
    if post.depth == 0:
        return 1
    layout = _tree_pages(thread, per_page)
    slices = [number for number, page in enumerate(layout, start=1) if page.split == post.branch_id]
    if slices:   # a branch spread over pages: the post's place in it, in tree order
        before = db.session.scalar(select(db.func.count()).select_from(Post).where(
            Post.thread_id == thread.id, Post.branch_id == post.branch_id, Post.path < post.path,
            Post.awaiting_approval.is_(False)))
        return slices[min((before or 0) // per_page, len(slices) - 1)]
    for number, page in enumerate(layout, start=1):
        if post.branch_id in page.branches:
            return number
    return 1


# A branch of up to this many pages' worth of posts stays whole on one page; a larger one is
# spread over pages of its own. So no tree page holds more than twice ``per_page`` posts.
WHOLE_BRANCH_PAGES = 2


@dataclasses.dataclass
class _TreePage:
    """Whole top-level branches, or one slice of a branch larger than a page: ``per_page``
    posts from position ``start`` of that branch in tree order."""
    branches: list[int] = dataclasses.field(default_factory=list)
    split: int | None = None
    start: int = 0
    last: bool = False


def _tree_pages(thread: Thread, per_page: int) -> list[_TreePage]:
    """Top-level replies grouped into pages of about ``per_page`` posts, whole subtrees each,
    except that a subtree of more than ``WHOLE_BRANCH_PAGES`` pages is spread over pages of its
    own (one statement, like the page itself)."""
    branches = db.session.execute(
        select(Post.id, Post.branch_size).where(Post.thread_id == thread.id, Post.depth == 1).order_by(Post.id)
    ).all()
    pages = [_TreePage()]
    filled = 1  # the opening post sits on the first page
    for branch_id, size in branches:
        if size > WHOLE_BRANCH_PAGES * per_page:
            starts = range(0, size, per_page)
            for start in starts:
                if pages[-1].branches or pages[-1].split is not None:
                    pages.append(_TreePage())
                pages[-1].split, pages[-1].start, pages[-1].last = branch_id, start, start == starts[-1]
            continue
        if pages[-1].split is not None or (pages[-1].branches and filled + size > per_page):
            pages.append(_TreePage())
            filled = 0
        pages[-1].branches.append(branch_id)
        filled += size
    return pages


def revisions(post: Post) -> list[PostRevision]:
    return list(db.session.scalars(
        select(PostRevision).where(PostRevision.post_id == post.id)
        .options(joinedload(PostRevision.editor)).order_by(PostRevision.number.desc())
    ))

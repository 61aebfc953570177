"""Threads, their reply trees, revisions and Themenfelder."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.extensions import db
from forum.models.util import utcnow

if TYPE_CHECKING:
    from forum.models.accounts import User
    from forum.models.clusters import Board

PATH_WIDTH = 10  # each level of Post.path is the post id, zero-padded to this width
# Replies are stored at most this many levels below the opening post (FORUM_MAX_REPLY_DEPTH): a
# reply to a post at the cap sits beside it, under the same parent, and keeps whom it answers in
# ``reply_to_id``. So ``path`` stays under (MAX_REPLY_DEPTH + 1) * (PATH_WIDTH + 1) characters
# however long a chain of replies grows (issue 15, point 10: a chain 1,000 deep stored 5 MB).
MAX_REPLY_DEPTH = 16

thread_tags = Table(
    "thread_tags",
    db.metadata,
    Column("thread_id", ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(db.Model):
    """A Themenfeld (seeded, shown as a filter) or a free tag from an import."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    is_themenfeld: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Thread(db.Model):
    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    is_pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    is_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    lock_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_activity_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_poster_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    first_post_id: Mapped[int | None] = mapped_column(Integer)
    # Denormalised counters: replies (posts after the opening post) and top-level replies.
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    branch_count: Mapped[int] = mapped_column(Integer, default=0)
    # -- cluster management: slow mode, one post per member every N minutes (0: off)
    slow_mode_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # -- moderation: the reply marked as "Lösung" (one per thread) and the "Best Practice" mark
    solution_post_id: Mapped[int | None] = mapped_column(Integer)
    is_best_practice: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    board: Mapped[Board] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    last_poster: Mapped[User | None] = relationship(foreign_keys=[last_poster_id])
    tags: Mapped[list[Tag]] = relationship(secondary=thread_tags, order_by="Tag.position, Tag.name")

    __table_args__ = (
        # board page: pinned first, then last activity; keyset on (last_activity_at, id)
        Index("ix_threads_board_listing", "board_id", "is_pinned", "last_activity_at", "id"),
        Index("ix_threads_last_activity", "last_activity_at", "id"),
        Index("ix_threads_author", "author_id", "created_at"),
    )

    def __repr__(self) -> str:
        return f"<Thread {self.id} {self.title[:30]!r}>"


class Post(db.Model):
    """One post. ``path`` orders the reply tree depth-first; ``branch_id`` is the top-level
    reply a post descends from (the opening post's is its own id), so pages keep subtrees
    together."""

    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(Text, default="")
    branch_id: Mapped[int | None] = mapped_column(Integer)
    # The post this reply answers where the depth cap placed it elsewhere (its parent in the
    # tree is then an ancestor of that post); None where it is the parent.
    reply_to_id: Mapped[int | None] = mapped_column(Integer)
    # On a top-level reply: the posts in its subtree, itself included (pages never split one).
    branch_size: Mapped[int] = mapped_column(Integer, default=1)
    body_markdown: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    edited_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revision_count: Mapped[int] = mapped_column(Integer, default=0)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    hidden_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    hidden_reason: Mapped[str] = mapped_column(String(500), default="")
    # -- cluster management: a new member's post waits for a manager; invisible to others and
    # never indexed for search until approved
    awaiting_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    thread: Mapped[Thread] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    edited_by: Mapped[User | None] = relationship(foreign_keys=[edited_by_id])

    __table_args__ = (
        Index("ix_posts_thread_path", "thread_id", "path"),
        Index("ix_posts_thread_id", "thread_id", "id"),
        # the flat view's order: page 1 of a thread with thousands of replies reads 20 index
        # entries instead of sorting the whole thread (and page_of_post counts along it)
        Index("ix_posts_thread_created", "thread_id", "created_at", "id"),
        # tree pages: whole branches, or a slice of one too large for a page, in path order
        Index("ix_posts_thread_branch", "thread_id", "branch_id", "path"),
        Index("ix_posts_thread_depth", "thread_id", "depth", "id"),
        Index("ix_posts_author", "author_id", "id"),
        Index("ix_posts_parent", "parent_id"),
    )

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def is_first(self) -> bool:
        return self.parent_id is None

    @property
    def answers_id(self) -> int | None:
        """The post this one answers (its parent, unless the depth cap moved it up the tree)."""
        return self.reply_to_id or self.parent_id

    @property
    def edited(self) -> bool:
        return self.edited_at is not None

    def __repr__(self) -> str:
        return f"<Post {self.id} in {self.thread_id}>"


class PostRevision(db.Model):
    """The text a post had before an edit; append-only."""

    __tablename__ = "post_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    body_markdown: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    editor: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_post_revisions_post", "post_id", "number"),)

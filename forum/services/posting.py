"""Writing: threads, replies, edits, soft deletes. Web and API both call these."""
from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from forum import permissions, search
from forum.errors import NotAllowedError, ValidationError
from forum.extensions import db
from forum.models import Board, Post, PostRevision, Tag, Thread, User, utcnow
from forum.models.threads import MAX_REPLY_DEPTH, PATH_WIDTH
from forum.rendering import has_control_characters, render
from forum.services import (
    modlog,  # moderation: managers' edits and deletes of others' posts
    notifications,  # watchers, mentions, in-app notifications
    protection,
    validation,
)

MAX_TAGS = 5


def _segment(post_id: int) -> str:
    return str(post_id).zfill(PATH_WIDTH)


def resolve_tags(slugs: object) -> list[Tag]:
    if slugs is None:
        return []
    if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
        raise ValidationError(_("Themenfelder müssen eine Liste von Kurzbezeichnungen sein."), "tags")
    wanted = list(dict.fromkeys(s.strip() for s in slugs if s.strip()))
    if len(wanted) > MAX_TAGS:
        raise ValidationError(_("Bitte wählen Sie höchstens %(n)s Themenfelder.", n=MAX_TAGS), "tags")
    askable = [s for s in wanted if not has_control_characters(s)]   # NUL: PostgreSQL fails (found by fuzzing)
    tags = list(db.session.scalars(select(Tag).where(Tag.slug.in_(askable)))) if askable else []
    unknown = set(wanted) - {t.slug for t in tags}
    if unknown:
        raise ValidationError(_("Unbekanntes Themenfeld: %(slugs)s", slugs=", ".join(sorted(unknown))), "tags")
    return tags


def create_thread(user: User, board: Board, title: object, body: object, tags: object = None) -> Thread:
    permissions.ensure_visible(permissions.can_view_board(user, board))
    protection.check_new_thread(user, board)  # archived board, suspension, approval of new members
    if not permissions.can_start_thread(user, board):
        raise NotAllowedError(_("In diesem Brett können Sie keine neuen Themen beginnen."))
    clean_title = validation.title(title)
    clean_body = validation.body(body)
    tag_rows = resolve_tags(tags)
    now = utcnow()
    thread = Thread(board_id=board.id, author_id=user.id, title=clean_title, created_at=now,
                    last_activity_at=now, last_poster_id=user.id, tags=tag_rows)
    db.session.add(thread)
    db.session.flush()
    post = Post(thread_id=thread.id, author_id=user.id, parent_id=None, depth=0,
                body_markdown=clean_body, body_html=render(clean_body), created_at=now)
    db.session.add(post)
    db.session.flush()
    post.path = _segment(post.id)
    post.branch_id = post.id
    thread.first_post_id = post.id
    db.session.execute(
        update(Board).where(Board.id == board.id)
        .values(thread_count=Board.thread_count + 1, post_count=Board.post_count + 1)
    )
    notifications.on_new_thread(thread, post)  # notifications: watchers and mentions, same transaction
    search.enqueue("post", post.id)
    db.session.commit()
    return thread


def reply(user: User, thread: Thread, body: object, parent_id: object = None) -> Post:
    permissions.ensure_visible(permissions.can_view_thread(user, thread))
    if thread.is_locked and not permissions.can_reply(user, thread):
        raise NotAllowedError(_("Dieses Thema ist gesperrt; Antworten sind nicht mehr möglich."))
    held = protection.check_reply(user, thread)  # archived, suspended, slow mode; True: awaits approval
    if not permissions.can_reply(user, thread):
        raise NotAllowedError(_("Sie können in diesem Thema nicht antworten."))
    parent = _parent(user, thread, parent_id)
    clean_body = validation.body(body)
    now = utcnow()
    anchor_id, depth, anchor_path = _tree_place(parent)
    post = Post(thread_id=thread.id, author_id=user.id, parent_id=anchor_id, depth=depth,
                reply_to_id=parent.id if anchor_id != parent.id else None,
                body_markdown=clean_body, body_html=render(clean_body), created_at=now, awaiting_approval=held)
    db.session.add(post)
    db.session.flush()
    post.path = f"{anchor_path}/{_segment(post.id)}"
    post.branch_id = post.id if depth == 1 else parent.branch_id
    if not held:  # a held post is counted and indexed when a manager approves it
        count_reply(post, now)
    db.session.commit()
    return post


def count_reply(post: Post, now) -> None:
    """Counters, last activity and the search outbox for a reply that becomes visible."""
    top_level = post.depth == 1
    if not top_level:
        db.session.execute(update(Post).where(Post.id == post.branch_id).values(branch_size=Post.branch_size + 1))
    db.session.execute(
        update(Thread).where(Thread.id == post.thread_id).values(
            reply_count=Thread.reply_count + 1,
            branch_count=Thread.branch_count + (1 if top_level else 0),
            last_activity_at=now, last_poster_id=post.author_id,
        )
    )
    db.session.execute(update(Board).where(Board.id == select(Thread.board_id).where(Thread.id == post.thread_id)
                                           .scalar_subquery()).values(post_count=Board.post_count + 1))
    notifications.on_reply(post)  # notifications: when the reply becomes visible (now or on approval)
    search.enqueue("post", post.id)


def depth_cap() -> int:
    """How many levels of replies are stored (``FORUM_MAX_REPLY_DEPTH``); posting, the corpus
    import and thread merges all place replies by it."""
    return max(1, int(current_app.config.get("MAX_REPLY_DEPTH", MAX_REPLY_DEPTH)))


def _tree_place(parent: Post) -> tuple[int, int, str]:
    return tree_place(parent.id, parent.depth, parent.path, depth_cap())


def tree_place(parent_id: int, parent_depth: int, parent_path: str, cap: int) -> tuple[int, int, str]:
    """Where a reply to a post goes in the tree: its stored parent's id, its depth and that
    parent's path. Below the depth cap it is the post itself; at the cap the reply sits beside
    it, under the ancestor one level above the cap (read from the path, so a lowered cap also
    holds for chains that are deeper already). The corpus import places its replies the same way."""
    if parent_depth < cap:
        return parent_id, parent_depth + 1, parent_path
    segments = parent_path.split("/")[:cap]
    return int(segments[-1]), cap, "/".join(segments)


def _parent(user: User, thread: Thread, parent_id: object) -> Post:
    """The post a reply answers: the opening post by default; otherwise a post of this thread
    that the replier may answer (``permissions.can_reply_to_post``) — one awaiting approval or
    not visible gets the same answer as one of another thread."""
    if parent_id is None or parent_id == "":
        parent = db.session.get(Post, thread.first_post_id)
    else:
        if isinstance(parent_id, str) and parent_id.isascii() and parent_id.isdigit():
            parent_id = int(parent_id) if len(parent_id) <= 10 else 0   # not "²", not 5,000 digits
        if not isinstance(parent_id, int) or isinstance(parent_id, bool):
            raise ValidationError(_("parent_id muss eine Beitragsnummer sein."), "parent_id")
        wanted = validation.object_id(parent_id)
        parent = db.session.get(Post, wanted) if wanted else None
        if parent is None or parent.thread_id != thread.id or not permissions.can_reply_to_post(user, parent):
            raise ValidationError(_("Der Beitrag, auf den Sie antworten, gehört nicht zu diesem Thema."), "parent_id")
    if parent is None:  # a thread always has its opening post; a broken import must not 500
        raise ValidationError(_("Dieses Thema hat keinen Eröffnungsbeitrag."), "parent_id")
    return parent


def edit_post(user: User, post: Post, body: object) -> Post:
    permissions.ensure_visible(permissions.can_view_post(user, post))
    if not permissions.can_edit_post(user, post):
        raise NotAllowedError(_("Diesen Beitrag können Sie nicht bearbeiten."))
    clean_body = validation.body(body)
    if clean_body == post.body_markdown:
        return post
    post.revision_count += 1
    db.session.add(PostRevision(post_id=post.id, number=post.revision_count, body_markdown=post.body_markdown,
                                editor_id=user.id, created_at=utcnow()))
    previous = post.body_markdown
    post.body_markdown = clean_body
    post.body_html = render(clean_body)
    notifications.on_edit(post, previous)  # notifications: mentions linked again, new ones notified
    post.edited_at = utcnow()
    post.edited_by_id = user.id
    if post.author_id != user.id:  # -- moderation: a manager edits someone else's post
        modlog.record(user, post.thread.board.cluster_id, "post.edit", "post", post.id, thread_id=post.thread_id,
                      revision=post.revision_count)
    search.enqueue("post", post.id)
    db.session.commit()
    return post


def delete_post(user: User, post: Post) -> None:
    """Soft delete: the tree keeps a placeholder so replies stay where they are."""
    permissions.ensure_visible(permissions.can_view_post(user, post))
    if not permissions.can_delete_post(user, post):
        raise NotAllowedError(_("Diesen Beitrag können Sie nicht löschen."))
    post.deleted_at = utcnow()
    post.deleted_by_id = user.id
    if post.author_id != user.id:  # -- moderation: a manager deletes someone else's post
        modlog.record(user, post.thread.board.cluster_id, "post.delete", "post", post.id, thread_id=post.thread_id)
    search.enqueue("post", post.id)
    db.session.commit()


def quote(post: Post) -> str:
    """Markdown that quotes a post at the start of a reply."""
    author = post.author.display_name if post.author else _("Unbekannt")
    lines = post.body_markdown.splitlines() or [""]
    return _("%(author)s schrieb:", author=author) + "\n" + "\n".join(f"> {line}" for line in lines) + "\n\n"

"""What managers do to threads and posts: pin, lock, move, edit, split, merge, hide, delete.

Every function checks the permission module, changes the rows, writes the moderation log and
the search outbox, and commits once: an action and its log row exist together or not at all.
A manager of one cluster reaches nothing in another (404 from ``ensure_visible`` or a German
validation message for a foreign target that must not be acknowledged).
"""
from __future__ import annotations

from collections import Counter

from flask_babel import gettext as _
from sqlalchemy import Text, func, literal, or_, select, update

from forum import permissions, search
from forum.errors import ConflictError, NotAllowedError, ValidationError
from forum.extensions import db
from forum.models import BestPracticeProposal, Board, Notification, Post, Thread, utcnow
from forum.models.threads import PATH_WIDTH
from forum.permissions import Viewer
from forum.services import modlog, notify, posting, validation

MAX_REASON = 500


def reason_text(value: object, *, required: bool) -> str:
    return validation.text(value, "reason", _("Der Grund"), max_length=MAX_REASON, required=required)


def guard_thread(user: Viewer, thread: Thread) -> None:
    permissions.ensure_visible(permissions.can_view_thread(user, thread))
    if not permissions.can_moderate_thread(user, thread):
        raise NotAllowedError(_("Das darf nur die Moderation dieses Clusters."))


def guard_post(user: Viewer, post: Post) -> None:
    permissions.ensure_visible(permissions.can_view_post(user, post))
    if not permissions.can_moderate_post(user, post):
        raise NotAllowedError(_("Das darf nur die Moderation dieses Clusters."))


def _id(value: object, field: str) -> int | None:
    return validation.object_id(value)


def _counted(thread_id: int) -> int:
    """Posts of a thread that count (a post waiting for approval is not counted yet)."""
    return db.session.scalar(select(func.count()).select_from(Post).where(
        Post.thread_id == thread_id, Post.awaiting_approval.is_(False))) or 0


# -- pin and lock ---------------------------------------------------------------------------

def set_pinned(user: Viewer, thread: Thread, pinned: bool) -> Thread:
    guard_thread(user, thread)
    if thread.is_pinned != pinned:
        thread.is_pinned = pinned
        modlog.record(user, thread.board.cluster_id, "thread.pin" if pinned else "thread.unpin", "thread", thread.id,
                      title=thread.title)
        db.session.commit()
    return thread


def lock(user: Viewer, thread: Thread, reason: object = "") -> Thread:
    """Locks (or changes the reason of a lock); the reason is shown in the thread."""
    guard_thread(user, thread)
    clean = reason_text(reason, required=False)
    thread.is_locked = True
    thread.lock_reason = clean
    modlog.record(user, thread.board.cluster_id, "thread.lock", "thread", thread.id, clean, title=thread.title)
    db.session.commit()
    return thread


def unlock(user: Viewer, thread: Thread, reason: object = "") -> Thread:
    guard_thread(user, thread)
    clean = reason_text(reason, required=False)
    if thread.is_locked:
        thread.is_locked = False
        thread.lock_reason = ""
        modlog.record(user, thread.board.cluster_id, "thread.unlock", "thread", thread.id, clean, title=thread.title)
        db.session.commit()
    return thread


# -- move and edit --------------------------------------------------------------------------

def _board_in_cluster(value: object, cluster_id: int | None) -> Board:
    board_id = _id(value, "board_id")
    board = db.session.get(Board, board_id) if board_id else None
    if board is None or board.cluster_id != cluster_id:
        raise ValidationError(_("Das Ziel-Brett gibt es in diesem Cluster nicht."), "board_id")
    if board.is_archived:
        raise ValidationError(_("Das Ziel-Brett ist archiviert; dorthin kann nichts verschoben werden."), "board_id")
    return board


def move(user: Viewer, thread: Thread, board_id: object, reason: object = "") -> Thread:
    guard_thread(user, thread)
    clean = reason_text(reason, required=False)
    source = thread.board
    target = _board_in_cluster(board_id, source.cluster_id)
    if target.id == source.id:
        raise ValidationError(_("Das Thema steht bereits in diesem Brett."), "board_id")
    posts = _counted(thread.id)
    db.session.execute(update(Board).where(Board.id == source.id).values(
        thread_count=Board.thread_count - 1, post_count=Board.post_count - posts))
    db.session.execute(update(Board).where(Board.id == target.id).values(
        thread_count=Board.thread_count + 1, post_count=Board.post_count + posts))
    thread.board = target
    modlog.record(user, source.cluster_id, "thread.move", "thread", thread.id, clean, title=thread.title,
                  from_board=source.name, to_board=target.name)
    search.enqueue("thread", thread.id)
    db.session.commit()
    return thread


def edit_thread(user: Viewer, thread: Thread, title: object, tags: object = None) -> Thread:
    """Title and Themenfelder; ``tags=None`` keeps the Themenfelder."""
    guard_thread(user, thread)
    clean = validation.title(title)
    old_title, old_tags = thread.title, [t.slug for t in thread.tags]
    if tags is not None:
        thread.tags = posting.resolve_tags(tags)
    thread.title = clean
    new_tags = [t.slug for t in thread.tags]
    if (old_title, old_tags) != (clean, new_tags):
        modlog.record(user, thread.board.cluster_id, "thread.edit", "thread", thread.id, old_title=old_title,
                      title=clean, old_tags=old_tags, tags=new_tags)
        search.enqueue("thread", thread.id)
    db.session.commit()
    return thread


# -- split and merge ------------------------------------------------------------------------

def split(user: Viewer, post: Post, title: object, board_id: object = None, reason: object = "") -> Thread:
    """The reply and its subtree become a new thread whose opening post is that reply."""
    guard_post(user, post)
    if post.parent_id is None:
        raise ValidationError(_("Der Eröffnungsbeitrag kann nicht abgetrennt werden."), "post_id")
    if post.awaiting_approval:
        raise ValidationError(_("Ein Beitrag, der noch auf Freigabe wartet, kann nicht abgetrennt werden."), "post_id")
    clean_title = validation.title(title)
    clean = reason_text(reason, required=False)
    source, old_depth, old_branch = post.thread, post.depth, post.branch_id
    board = source.board if board_id in (None, "") else _board_in_cluster(board_id, source.board.cluster_id)
    rows = db.session.execute(
        select(Post.id, Post.path, Post.created_at, Post.author_id, Post.awaiting_approval)
        .where(Post.thread_id == source.id, or_(Post.id == post.id, Post.path.like(post.path + "/%")))
        .order_by(Post.path)
    ).all()
    counted = [r for r in rows if not r.awaiting_approval]
    latest = max(counted, key=lambda r: (r.created_at, r.id))
    new = Thread(board_id=board.id, author_id=post.author_id, title=clean_title, created_at=post.created_at,
                 last_activity_at=latest.created_at, last_poster_id=latest.author_id, first_post_id=post.id,
                 tags=list(source.tags))
    db.session.add(new)
    db.session.flush()
    cut = len(post.path) - PATH_WIDTH  # the new opening post's path is its own segment
    changes, sizes = [], Counter()
    for row in rows:
        path = row.path[cut:]
        segments = path.split("/")
        branch = int(segments[1]) if len(segments) > 1 else post.id
        if len(segments) > 1 and not row.awaiting_approval:
            sizes[branch] += 1
        changes.append({"id": row.id, "thread_id": new.id, "path": path, "depth": len(segments) - 1,
                        "branch_id": branch})
    for change in changes:
        change["branch_size"] = sizes[change["id"]] or 1 if change["depth"] == 1 else 1
    db.session.execute(update(Post), changes)
    db.session.execute(update(Post).where(Post.id == post.id).values(parent_id=None))
    moved = len(counted)
    new.reply_count = moved - 1
    new.branch_count = sum(1 for c in changes if c["depth"] == 1)
    if old_depth == 1:
        source.branch_count -= 1
    else:
        db.session.execute(update(Post).where(Post.id == old_branch).values(branch_size=Post.branch_size - moved))
    source.reply_count -= moved
    _refresh_activity(source)
    ids = [r.id for r in rows]
    if source.solution_post_id in ids:
        source.solution_post_id = None
    db.session.execute(update(Notification).where(Notification.post_id.in_(ids)).values(thread_id=new.id))
    db.session.execute(update(Board).where(Board.id == board.id).values(thread_count=Board.thread_count + 1))
    if board.id != source.board_id:
        _shift_posts(source.board_id, board.id, moved)
    modlog.record(user, source.board.cluster_id, "thread.split", "thread", source.id, clean, title=source.title,
                  new_thread_id=new.id, new_title=clean_title, post_id=post.id, posts=moved)
    search.enqueue("thread", source.id)
    search.enqueue("thread", new.id)
    db.session.commit()
    return new


def merge(user: Viewer, source: Thread, target_id: object, reason: object = "") -> Thread:
    """The source's posts become replies under the target's opening post (the source's opening
    post a top-level reply); the source thread is then deleted. Post ids stay, so /p/<id> links
    keep working; notifications move along to the target."""
    guard_thread(user, source)
    clean = reason_text(reason, required=False)
    wanted = _id(target_id, "target_thread_id")
    target = db.session.get(Thread, wanted) if wanted else None
    if target is not None and target.id == source.id:
        raise ValidationError(_("Ein Thema kann nicht mit sich selbst zusammengeführt werden."), "target_thread_id")
    if target is None or target.board.cluster_id != source.board.cluster_id \
            or not permissions.can_moderate_thread(user, target):
        raise ValidationError(_("Das Ziel-Thema gibt es in diesem Cluster nicht."), "target_thread_id")
    target_first = db.session.get(Post, target.first_post_id)
    source_first = db.session.get(Post, source.first_post_id)
    if target_first is None or source_first is None:
        raise ConflictError(_("Eines der Themen hat keinen Eröffnungsbeitrag."))
    moved = _counted(source.id)
    db.session.execute(
        update(Post).where(Post.thread_id == source.id).values(
            thread_id=target.id, path=literal(target_first.path + "/", Text()).concat(Post.path),
            depth=Post.depth + 1, branch_id=source_first.id, branch_size=1),
        execution_options={"synchronize_session": False},
    )
    db.session.execute(update(Post).where(Post.id == source_first.id).values(
        parent_id=target_first.id, branch_size=moved))
    _keep_depth_cap(target.id)
    target.reply_count += moved
    target.branch_count += 1
    if source.last_activity_at > target.last_activity_at:
        target.last_activity_at, target.last_poster_id = source.last_activity_at, source.last_poster_id
    db.session.execute(update(Board).where(Board.id == source.board_id).values(thread_count=Board.thread_count - 1))
    _shift_posts(source.board_id, target.board_id, moved)
    db.session.execute(update(Notification).where(Notification.thread_id == source.id).values(thread_id=target.id))
    for proposal in db.session.scalars(select(BestPracticeProposal).where(BestPracticeProposal.thread_id == source.id)):
        db.session.delete(proposal)
    modlog.record(user, target.board.cluster_id, "thread.merge", "thread", target.id, clean, title=target.title,
                  source_thread_id=source.id, source_title=source.title, posts=moved)
    search.enqueue("thread", source.id)
    search.enqueue("thread", target.id)
    db.session.flush()
    db.session.delete(source)
    db.session.commit()
    return target


def _keep_depth_cap(thread_id: int) -> None:
    """After a merge moved a thread one level down, the replies that went past the depth cap
    sit beside the post they answer, as ``posting.tree_place`` places new ones (they have no
    replies of their own: they were at the cap before)."""
    cap = posting.depth_cap()
    rows = db.session.execute(select(Post.id, Post.parent_id, Post.reply_to_id, Post.path)
                              .where(Post.thread_id == thread_id, Post.depth > cap)).all()
    for post_id, parent_id, reply_to_id, path in rows:
        anchor_id, depth, anchor_path = posting.tree_place(parent_id, cap, path.rsplit("/", 1)[0], cap)
        db.session.execute(update(Post).where(Post.id == post_id).values(
            parent_id=anchor_id, depth=depth, path=f"{anchor_path}/{path.rsplit('/', 1)[1]}",
            reply_to_id=reply_to_id or parent_id), execution_options={"synchronize_session": False})


def _shift_posts(from_board: int, to_board: int, posts: int) -> None:
    if from_board == to_board:
        return
    db.session.execute(update(Board).where(Board.id == from_board).values(post_count=Board.post_count - posts))
    db.session.execute(update(Board).where(Board.id == to_board).values(post_count=Board.post_count + posts))


def _refresh_activity(thread: Thread) -> None:
    db.session.flush()
    last = db.session.execute(
        select(Post.created_at, Post.author_id).where(Post.thread_id == thread.id, Post.awaiting_approval.is_(False))
        .order_by(Post.created_at.desc(), Post.id.desc()).limit(1)
    ).first()
    if last is not None:
        thread.last_activity_at, thread.last_poster_id = last.created_at, last.author_id


# -- posts ----------------------------------------------------------------------------------

def hide_in_transaction(user: Viewer, post: Post, reason: str) -> None:
    """Hides without committing (a resolved report hides in the same transaction)."""
    post.hidden_at = utcnow()
    post.hidden_by_id = user.id
    post.hidden_reason = reason
    modlog.record(user, post.thread.board.cluster_id, "post.hide", "post", post.id, reason, thread_id=post.thread_id)
    if post.author_id is not None:
        notify.notify(post.author_id, "moderation", user, cluster_id=post.thread.board.cluster_id,
                      thread_id=post.thread_id, post_id=post.id, action="hide", reason=reason)
    search.enqueue("post", post.id)


def hide(user: Viewer, post: Post, reason: object) -> Post:
    guard_post(user, post)
    clean = reason_text(reason, required=True)
    if post.is_deleted:
        raise ValidationError(_("Ein gelöschter Beitrag kann nicht ausgeblendet werden."), "post_id")
    hide_in_transaction(user, post, clean)
    db.session.commit()
    return post


def unhide(user: Viewer, post: Post, reason: object = "") -> Post:
    guard_post(user, post)
    clean = reason_text(reason, required=False)
    if post.is_hidden:
        post.hidden_at = None
        post.hidden_by_id = None
        post.hidden_reason = ""
        modlog.record(user, post.thread.board.cluster_id, "post.unhide", "post", post.id, clean,
                      thread_id=post.thread_id)
        search.enqueue("post", post.id)
        db.session.commit()
    return post


def delete_post(user: Viewer, post: Post, reason: object) -> Post:
    """A moderator's soft delete with a reason (the author's own delete is ``posting.delete_post``)."""
    guard_post(user, post)
    clean = reason_text(reason, required=True)
    if post.is_deleted:
        raise ConflictError(_("Dieser Beitrag ist bereits gelöscht."))
    post.deleted_at = utcnow()
    post.deleted_by_id = user.id
    modlog.record(user, post.thread.board.cluster_id, "post.delete", "post", post.id, clean, thread_id=post.thread_id)
    search.enqueue("post", post.id)
    db.session.commit()
    return post

"""Solutions, the "Best Practice" mark, and carrying a best practice to a platform-wide board.

A proposal fixes the posts it covers (the visible posts with an author at that moment) and
asks every distinct author for consent in-app. Only when all agreed is a *copy* of exactly
those posts published on the platform-wide board: outsiders never get a link into the cluster,
and a post written after the proposal never travels without its author's consent. One refusal
ends the proposal.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select, update

from forum import permissions, search
from forum.errors import ConflictError, NotAllowedError, ValidationError
from forum.extensions import db
from forum.models import (
    BestPracticeProposal,
    Board,
    Cluster,
    ConsentState,
    Post,
    ProposalConsent,
    ProposalState,
    Thread,
    utcnow,
)
from forum.models.threads import PATH_WIDTH
from forum.permissions import Viewer
from forum.services import modlog, notify, reading, validation

# -- solution -------------------------------------------------------------------------------

def mark_solution(user: Viewer, thread: Thread, post_id: object) -> Thread:
    """Marks one reply as the thread's "Lösung" (replacing an earlier one); ``None`` clears it."""
    permissions.ensure_visible(permissions.can_view_thread(user, thread))
    if not permissions.can_mark_solution(user, thread):
        raise NotAllowedError(_("Eine Lösung markieren kann nur, wer das Thema begonnen hat, oder die Moderation."))
    post = None
    if post_id not in (None, ""):
        wanted = validation.object_id(post_id)
        post = db.session.get(Post, wanted) if wanted else None
        if post is None or post.thread_id != thread.id:
            raise ValidationError(_("Dieser Beitrag gehört nicht zu diesem Thema."), "post_id")
        if post.parent_id is None:
            raise ValidationError(_("Der Eröffnungsbeitrag kann nicht die Lösung sein."), "post_id")
        if post.is_deleted or post.is_hidden or post.awaiting_approval:
            raise ValidationError(_("Ein gelöschter oder ausgeblendeter Beitrag kann nicht die Lösung sein."),
                                  "post_id")
    new_id = post.id if post else None
    if thread.solution_post_id == new_id:
        return thread
    thread.solution_post_id = new_id
    if user.id != thread.author_id:
        modlog.record(user, thread.board.cluster_id, "thread.solution", "thread", thread.id, post_id=new_id)
    if post is not None and post.author_id is not None:
        notify.notify(post.author_id, "solution", user, cluster_id=thread.board.cluster_id, thread_id=thread.id,
                      post_id=post.id, title=thread.title)
    db.session.commit()
    return thread


# -- best practice --------------------------------------------------------------------------

def set_best_practice(user: Viewer, thread: Thread, value: bool) -> Thread:
    permissions.ensure_visible(permissions.can_view_thread(user, thread))
    if not permissions.can_mark_best_practice(user, thread):
        raise NotAllowedError(_("Das darf nur die Moderation dieses Clusters."))
    if thread.is_best_practice != value:
        thread.is_best_practice = value
        modlog.record(user, thread.board.cluster_id,
                      "thread.best_practice" if value else "thread.best_practice_removed",
                      "thread", thread.id, title=thread.title)
        db.session.commit()
    return thread


def cluster_best_practice(cluster: Cluster) -> list[Thread]:
    return list(db.session.scalars(
        select(Thread).join(Board, Board.id == Thread.board_id)
        .where(Board.cluster_id == cluster.id, Thread.is_best_practice.is_(True))
        .options(*reading.THREAD_LOADS).order_by(Thread.last_activity_at.desc(), Thread.id.desc())
    ))


def proposals_of(thread: Thread) -> list[BestPracticeProposal]:
    return list(db.session.scalars(
        select(BestPracticeProposal).where(BestPracticeProposal.thread_id == thread.id)
        .order_by(BestPracticeProposal.id.desc())
    ))


def _platform_board(board_id: object) -> Board:
    if board_id in (None, ""):
        board = db.session.scalar(select(Board).where(Board.cluster_id.is_(None), Board.is_archived.is_(False))
                                  .order_by(Board.position, Board.id).limit(1))
        if board is None:
            raise ValidationError(_("Es gibt kein offenes plattformweites Brett."), "board_id")
        return board
    wanted = validation.object_id(board_id)
    board = db.session.get(Board, wanted) if wanted else None
    if board is None or board.cluster_id is not None or board.is_archived:
        raise ValidationError(_("Bitte wählen Sie ein offenes plattformweites Brett."), "board_id")
    return board


def propose(user: Viewer, thread: Thread, board_id: object = None) -> BestPracticeProposal:
    permissions.ensure_visible(permissions.can_view_thread(user, thread))
    if not permissions.can_moderate_thread(user, thread):
        raise NotAllowedError(_("Das darf nur die Moderation dieses Clusters."))
    if not permissions.can_propose_best_practice(user, thread):
        raise ValidationError(_("Nur ein als Best Practice markiertes Thema eines Clusters kann vorgeschlagen werden."))
    busy = db.session.scalar(select(BestPracticeProposal.id).where(
        BestPracticeProposal.thread_id == thread.id,
        BestPracticeProposal.state.in_([ProposalState.PENDING.value, ProposalState.PUBLISHED.value])))
    if busy is not None:
        raise ConflictError(_("Für dieses Thema gibt es bereits einen offenen oder angenommenen Vorschlag."))
    board = _platform_board(board_id)
    rows = db.session.execute(
        select(Post.id, Post.author_id).where(
            Post.thread_id == thread.id, Post.deleted_at.is_(None), Post.hidden_at.is_(None),
            Post.awaiting_approval.is_(False), Post.author_id.is_not(None)).order_by(Post.id)
    ).all()
    if thread.first_post_id not in {r.id for r in rows}:
        raise ValidationError(_("Der Eröffnungsbeitrag ist ausgeblendet oder gelöscht; so kann das Thema nicht "
                                "vorgeschlagen werden."))
    now = utcnow()
    proposal = BestPracticeProposal(thread_id=thread.id, cluster_id=thread.board.cluster_id, proposer_id=user.id,
                                    target_board_id=board.id, post_ids=[r.id for r in rows], created_at=now)
    for author_id in dict.fromkeys(r.author_id for r in rows):
        agreed = author_id == user.id  # proposing is the proposer's own consent
        proposal.consents.append(ProposalConsent(
            user_id=author_id, state=ConsentState.AGREED.value if agreed else ConsentState.PENDING.value,
            decided_at=now if agreed else None))
    db.session.add(proposal)
    db.session.flush()
    for consent in proposal.consents:
        if consent.state == ConsentState.PENDING.value:
            notify.notify(consent.user_id, "consent_request", user, cluster_id=proposal.cluster_id,
                          thread_id=thread.id, proposal_id=proposal.id, title=thread.title)
    modlog.record(user, proposal.cluster_id, "best_practice.propose", "thread", thread.id, proposal_id=proposal.id,
                  board=board.name, authors=len(proposal.consents))
    if all(c.state == ConsentState.AGREED.value for c in proposal.consents):
        _publish(user, proposal)
    db.session.commit()
    return proposal


def decide(user: Viewer, proposal: BestPracticeProposal, agree: bool) -> BestPracticeProposal:
    consent_ids = {c.user_id for c in proposal.consents}
    permissions.ensure_visible(permissions.can_view_proposal(user, proposal, consent_ids))
    consent = next((c for c in proposal.consents if c.user_id == user.id), None)
    if consent is None:
        raise NotAllowedError(_("Ihre Zustimmung wird für diesen Vorschlag nicht gebraucht."))
    if proposal.state != ProposalState.PENDING.value:
        raise ConflictError(_("Über diesen Vorschlag ist bereits entschieden."))
    if consent.state != ConsentState.PENDING.value:
        raise ConflictError(_("Sie haben über diesen Vorschlag bereits entschieden."))
    now = utcnow()
    consent.state = ConsentState.AGREED.value if agree else ConsentState.REFUSED.value
    consent.decided_at = now
    if not agree:
        proposal.state, proposal.decided_at = ProposalState.REFUSED.value, now
        modlog.record(user, proposal.cluster_id, "best_practice.refused", "thread", proposal.thread_id,
                      proposal_id=proposal.id)
        _tell_proposer(user, proposal)
    elif all(c.state == ConsentState.AGREED.value for c in proposal.consents):
        _publish(user, proposal)
        _tell_proposer(user, proposal)
    db.session.commit()
    return proposal


def _tell_proposer(user: Viewer, proposal: BestPracticeProposal) -> None:
    if proposal.proposer_id is not None:
        notify.notify(proposal.proposer_id, "best_practice", user, cluster_id=proposal.cluster_id,
                      thread_id=proposal.thread_id, proposal_id=proposal.id, outcome=proposal.state)


def _publish(user: Viewer, proposal: BestPracticeProposal) -> Thread:
    """Copies the covered posts that are still visible into a new platform-wide thread,
    keeping their authors, times and tree (a reply whose parent is not copied hangs from
    the nearest copied ancestor)."""
    source = proposal.thread
    posts = list(db.session.scalars(
        select(Post).where(Post.id.in_(proposal.post_ids), Post.deleted_at.is_(None), Post.hidden_at.is_(None))
        .order_by(Post.path)))
    if not posts or posts[0].id != source.first_post_id:
        raise ConflictError(_("Der Eröffnungsbeitrag ist nicht mehr sichtbar; der Vorschlag kann nicht "
                              "veröffentlicht werden."))
    now = utcnow()
    board = proposal.target_board
    opening = posts[0]
    latest = max(posts, key=lambda p: (p.created_at, p.id))
    copy = Thread(board_id=board.id, author_id=opening.author_id, title=source.title, created_at=now,
                  last_activity_at=now, last_poster_id=latest.author_id, tags=list(source.tags), is_best_practice=True)
    db.session.add(copy)
    db.session.flush()
    copies: dict[int, Post] = {}
    for original in posts:
        parent = None
        for segment in reversed(original.path.split("/")[:-1]):
            parent = copies.get(int(segment))
            if parent is not None:
                break
        if parent is None and copies:
            parent = copies[opening.id]
        new = Post(thread_id=copy.id, author_id=original.author_id, parent_id=parent.id if parent else None,
                   depth=parent.depth + 1 if parent else 0, body_markdown=original.body_markdown,
                   body_html=original.body_html, created_at=original.created_at)
        db.session.add(new)
        db.session.flush()
        segment = str(new.id).zfill(PATH_WIDTH)
        new.path = f"{parent.path}/{segment}" if parent else segment
        new.branch_id = new.id if parent is None or parent.parent_id is None else parent.branch_id
        copies[original.id] = new
    top_level = [p for p in copies.values() if p.depth == 1]
    for branch in top_level:
        branch.branch_size = sum(1 for p in copies.values() if p.branch_id == branch.id)
    copy.first_post_id = copies[opening.id].id
    copy.reply_count = len(posts) - 1
    copy.branch_count = len(top_level)
    db.session.execute(update(Board).where(Board.id == board.id).values(
        thread_count=Board.thread_count + 1, post_count=Board.post_count + len(posts)))
    proposal.state, proposal.decided_at, proposal.published_thread_id = ProposalState.PUBLISHED.value, now, copy.id
    modlog.record(user, proposal.cluster_id, "best_practice.publish", "thread", source.id, proposal_id=proposal.id,
                  published_thread_id=copy.id, posts=len(posts))
    search.enqueue("thread", copy.id)
    return copy


"""Watching, mentions, in-app notifications, unread tracking and reactions (issue 5)."""
from __future__ import annotations

from sqlalchemy import func, select

from forum.models import Notification, Reaction, Watch
from forum.services import notifications, reactions, unread, watching
from tests import bulk_factories as bulk, factories


def _notes(db, user, kind=None):
    query = select(Notification).where(Notification.user_id == user.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.session.scalars(query.order_by(Notification.id)))


def test_starting_and_replying_watch_the_thread(world, db):
    levels = watching.effective_levels(world.thread_a)
    assert levels[world.member.id] == "watching"
    factories.reply(world.thread_a, world.manager)
    assert watching.effective_levels(world.thread_a)[world.manager.id] == "watching"


def test_reply_notifies_author_and_watchers_but_never_the_actor(world, db):
    answer = factories.reply(world.thread_a, world.manager, "Erste Antwort")  # manager now watches
    factories.reply(world.thread_a, world.member, "Danke!", parent=answer)
    assert [n.kind for n in _notes(db, world.member)] == ["reply"]
    assert [n.kind for n in _notes(db, world.manager)] == ["reply"]  # answered his post
    assert all(n.actor_id != n.user_id for n in db.session.scalars(select(Notification)))


def test_watched_reply_for_watchers_and_nothing_when_muted(world, db):
    third = factories.member(world.cluster_a, factories.user("tom.tischler"))
    watching.set_level(third, "thread", world.thread_a.id, "watching")
    factories.reply(world.thread_a, world.manager, "Neu")
    assert [n.kind for n in _notes(db, third)] == ["watched_reply"]
    watching.set_level(world.member, "thread", world.thread_a.id, "muted")
    factories.reply(world.thread_a, world.manager, "Noch was")
    assert len(_notes(db, world.member)) == 1  # only the first reply, before muting


def test_new_thread_in_watched_board_and_cluster(world, db):
    watching.set_level(world.manager, "board", world.board_a.id, "watching")
    third = factories.member(world.cluster_a, factories.user("clara.cluster"))
    watching.set_level(third, "cluster", world.cluster_a.id, "watching")
    factories.thread(world.board_a, world.member, "Neues Thema")
    assert [n.kind for n in _notes(db, world.manager)] == ["new_thread"]
    assert [n.kind for n in _notes(db, third)] == ["new_thread"]
    assert _notes(db, world.member) == []


def test_board_level_beats_cluster_level(world, db):
    watching.set_level(world.manager, "cluster", world.cluster_a.id, "watching")
    watching.set_level(world.manager, "board", world.board_a.id, "muted")
    factories.thread(world.board_a, world.member, "Stilles Brett")
    assert _notes(db, world.manager) == []


def test_watchers_who_left_the_cluster_hear_nothing(world, db):
    from forum.models import Membership
    watching.set_level(world.manager, "board", world.board_a.id, "watching")
    db.session.execute(Membership.__table__.delete().where(Membership.user_id == world.manager.id))
    db.session.commit()
    db.session.expire_all()
    factories.thread(world.board_a, world.member, "Nach dem Austritt")
    assert _notes(db, world.manager) == []


def test_watch_level_for_invisible_target_is_404(world, client, login):
    login(world.outsider)
    response = client.post(f"/beobachten/board/{world.board_a.id}", data={"level": "watching"})
    assert response.status_code == 404
    response = client.post(f"/beobachten/cluster/{world.cluster_a.id}", data={"level": "watching"})
    assert response.status_code == 404


def test_fan_out_is_one_insert_without_per_watcher_queries(world, db, count_queries):
    for n in range(40):
        person = factories.member(world.cluster_a, factories.user(f"beobachter{n}"))
        watching.set_level(person, "thread", world.thread_a.id, "watching")
    with count_queries() as small:
        factories.reply(world.thread_a, world.manager, "Eine Antwort an alle")
    assert len(_notes(db, world.member)) == 1
    total = db.session.scalar(select(func.count()).select_from(Notification))
    assert total == 41
    for n in range(40, 80):
        person = factories.member(world.cluster_a, factories.user(f"beobachter{n}"))
        watching.set_level(person, "thread", world.thread_a.id, "watching")
    with count_queries() as large:
        factories.reply(world.thread_a, world.manager, "Noch eine")
    assert large.n == small.n


# -- mentions ----------------------------------------------------------------------------------------

def test_mention_notifies_and_links_only_people_who_can_see_the_thread(world, db, client, login):
    login(world.manager)
    response = client.post(f"/t/{world.thread_a.id}/antworten",
                           data={"body": "Fragt mal @mia.member, @otto.outsider und @gibtsnicht"},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "@otto.outsider, @gibtsnicht wurden nicht benachrichtigt" in page
    assert 'class="mention" href="/u/mia.member"' in page
    assert 'href="/u/otto.outsider"' not in page
    assert [n.kind for n in _notes(db, world.member)] == ["mention"]
    assert _notes(db, world.outsider) == []


def test_unknown_and_invisible_people_get_the_same_answer(world, api_token, client):
    headers = api_token(world.manager)
    first = client.post(f"/api/v1/threads/{world.thread_a.id}/posts", json={"body": "Hallo @otto.outsider"},
                        headers=headers)
    second = client.post(f"/api/v1/threads/{world.thread_a.id}/posts", json={"body": "Hallo @niemand.da"},
                         headers=headers)
    assert first.get_json()["unnotified_mentions"] == ["otto.outsider"]
    assert second.get_json()["unnotified_mentions"] == ["niemand.da"]
    assert "<a" not in first.get_json()["body_html"]


def test_mentions_in_code_and_mail_addresses_are_ignored(world, db):
    factories.reply(world.thread_a, world.manager, "`@mia.member` und max@mia.member.de\n\n```\n@mia.member\n```")
    assert _notes(db, world.member, "mention") == []


def test_self_mention_notifies_nobody(world, db):
    factories.reply(world.thread_a, world.manager, "Ich, @max.manager, melde mich")
    assert _notes(db, world.manager) == []


def test_autocompletion_lists_only_people_who_can_see_the_thread(world, client, login):
    factories.member(world.cluster_a, factories.user("mira.maurer"))
    login(world.manager)
    names = [p["username"] for p in client.get(f"/t/{world.thread_a.id}/erwaehnungen?q=mi").get_json()["items"]]
    assert names == ["mia.member", "mira.maurer"]
    assert client.get(f"/t/{world.thread_a.id}/erwaehnungen?q=ot").get_json()["items"] == []
    login(world.outsider)
    assert client.get(f"/t/{world.thread_a.id}/erwaehnungen?q=mi").status_code == 404


# -- the bell, the list, grouping --------------------------------------------------------------------

def test_bell_shows_unread_count_and_list_groups_replies(world, db, client, login):
    for n in range(3):
        factories.reply(world.thread_a, world.manager, f"Antwort {n}")
    login(world.member)
    home = client.get("/").get_data(as_text=True)
    assert 'class="bell-count">3' in home
    listing = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "3 neue Antworten in „Azubis finden im Münsterland“" in listing
    client.post("/benachrichtigungen/gelesen", data={"alle": "1"})
    assert "bell-count" not in client.get("/").get_data(as_text=True)


def test_bell_is_one_query(world, count_queries):
    factories.reply(world.thread_a, world.manager, "Für die Glocke")
    assert world.member.is_member  # loads the account before counting
    with count_queries() as counted:
        assert notifications.unread_count(world.member) == 1
    assert counted.n == 1


def test_opening_a_notification_marks_it_read_and_jumps_to_the_post(world, db, client, login):
    post = factories.reply(world.thread_a, world.manager, "Zum Anspringen")
    note = _notes(db, world.member)[0]
    login(world.member)
    followed = client.get(f"/benachrichtigungen/{note.id}")   # a GET only leads there (issue 15, point 11 e)
    assert followed.status_code == 302 and followed.headers["Location"].endswith(f"/p/{post.id}")
    db.session.refresh(note)
    assert note.read_at is None
    response = client.post(f"/benachrichtigungen/{note.id}")   # the list's link is a POST
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/p/{post.id}")
    db.session.refresh(note)
    assert note.read_at is not None
    login(world.manager)
    assert client.get(f"/benachrichtigungen/{note.id}").status_code == 404


def test_marking_read_ignores_ids_that_are_no_ids(world, db, client, login):
    """Found by fuzzing: "²".isdigit() is true, but int("²") fails."""
    factories.reply(world.thread_a, world.manager, "Ungelesen")
    note = _notes(db, world.member)[0]
    login(world.member)
    response = client.post("/benachrichtigungen/gelesen", data={"id": ["²", "9" * 5000, "99999999999999999999"]})
    assert response.status_code == 302
    assert db.session.get(type(note), note.id).read_at is None
    client.post("/benachrichtigungen/gelesen", data={"id": [f" {note.id} "]})
    db.session.refresh(note)
    assert note.read_at is not None


def test_moderation_kinds_show_a_generic_text(world, db, client, login):
    from forum.services.notify import notify
    notify(world.member.id, "report_outcome", world.manager, cluster_id=world.cluster_a.id, thread_id=world.thread_a.id)
    notify(world.member.id, "etwas_neues", None, cluster_id=world.cluster_a.id)
    db.session.commit()
    login(world.member)
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "Ihre Meldung wurde bearbeitet: „Azubis finden im Münsterland“" in page
    assert "Neue Benachrichtigung im Cluster Cluster Münsterland" in page


def test_notification_about_a_thread_one_cannot_see_any_more_says_nothing(world, db, client, login):
    from forum.models import Membership
    factories.reply(world.thread_a, world.manager, "Geheim")
    db.session.execute(Membership.__table__.delete().where(Membership.user_id == world.member.id))
    db.session.commit()
    login(world.member)
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "nicht mehr zugänglich" in page and "Azubis" not in page


# -- unread tracking ------------------------------------------------------------------------------

def test_unread_counts_and_jump_to_first_unread(world, db, client, login):
    first = factories.reply(world.thread_a, world.manager, "Eins")
    factories.reply(world.thread_a, world.manager, "Zwei")
    login(world.member)
    board = client.get(f"/b/{world.board_a.id}").get_data(as_text=True)
    assert "2 neu" in board
    jump = client.get(f"/t/{world.thread_a.id}/ungelesen")
    assert jump.headers["Location"].endswith(f"/p/{first.id}")
    client.get(f"/t/{world.thread_a.id}")
    # the page's read mark, posted by static/js/forum.js (issue 15, point 11 e: a GET writes nothing)
    client.post(f"/t/{world.thread_a.id}/gelesen", data={"post": str(first.id + 1)})
    assert "neu</a>" not in client.get(f"/b/{world.board_a.id}").get_data(as_text=True)
    factories.reply(world.thread_a, world.manager, "Drei")
    assert unread.counts(world.member, [world.thread_a])[world.thread_a.id].count == 1


def test_a_list_counts_at_most_99_unread_posts_per_thread(world, db, client, login):
    """However many unread posts a thread has, a list walks at most a hundred of them ("mehr
    als 99 neu"); below that the count stays exact: deleted posts and one's own not counted."""
    ids = bulk.replies(world.thread_a.id, [world.manager.id], 150)
    db.session.commit()
    found = unread.counts(world.member, [world.thread_a])[world.thread_a.id]
    assert (found.count, found.more, found.first_post_id) == (99, True, min(ids))
    other = factories.thread(world.board_a, world.manager, "Kurze Frage zur Dämmung")
    factories.reply(other, world.manager, "Eine Antwort")
    factories.reply(other, world.member, "Meine eigene Antwort")
    gone = factories.reply(other, world.manager, "Gleich wieder gelöscht")
    gone.deleted_at = gone.created_at
    db.session.commit()
    both = unread.counts(world.member, [world.thread_a, other])
    assert (both[other.id].count, both[other.id].more) == (2, False)
    assert both[world.thread_a.id] == found
    login(world.member)
    board = client.get(f"/b/{world.board_a.id}").get_data(as_text=True)
    assert "mehr als 99 neu" in board and "2 neu" in board


def test_mark_board_read(world, client, login):
    factories.reply(world.thread_a, world.manager, "Eins")
    login(world.member)
    assert "1 neu" in client.get(f"/b/{world.board_a.id}").get_data(as_text=True)
    client.post(f"/b/{world.board_a.id}/gelesen")
    assert "1 neu" not in client.get(f"/b/{world.board_a.id}").get_data(as_text=True)


def test_board_list_asks_once_for_all_threads(world, client, login, count_queries):
    for n in range(5):
        thread = factories.thread(world.board_a, world.manager, f"Thema {n}")
        factories.reply(thread, world.manager)
    login(world.member)
    client.get(f"/b/{world.board_a.id}")
    with count_queries() as few:
        client.get(f"/b/{world.board_a.id}")
    for n in range(5):
        factories.thread(world.board_a, world.manager, f"Weiteres {n}")
    client.get(f"/b/{world.board_a.id}")
    with count_queries() as more:
        client.get(f"/b/{world.board_a.id}")
    assert more.n == few.n


# -- reactions ----------------------------------------------------------------------------------------

def test_reactions_toggle_count_and_batch_one_notification(world, db, client, login):
    post = factories.first_post(world.thread_a)
    login(world.manager)
    client.post(f"/p/{post.id}/reaktion", data={"kind": "hilfreich"})
    client.post(f"/p/{post.id}/reaktion", data={"kind": "daumen"})
    third = factories.member(world.cluster_a, factories.user("rita.reagiert"))
    reactions.set_reaction(third, post, "herz", True)
    summary = {c.kind: c for c in reactions.summary(world.member, [post.id])[post.id]}
    assert summary["hilfreich"].count == 1 and summary["herz"].names == ["Rita Reagiert"]
    notes = _notes(db, world.member, "reaction")
    assert len(notes) == 1 and notes[0].data["count"] == 2
    client.post(f"/p/{post.id}/reaktion", data={"kind": "hilfreich"})  # toggled off
    assert db.session.scalar(select(func.count()).select_from(Reaction).where(Reaction.kind == "hilfreich")) == 0
    page = client.get(f"/t/{world.thread_a.id}").get_data(as_text=True)
    assert "Rita Reagiert" in page


def test_no_reaction_to_own_post_and_outsiders_get_404(world, client, login):
    post = factories.first_post(world.thread_a)
    login(world.member)
    client.post(f"/p/{post.id}/reaktion", data={"kind": "herz"}, follow_redirects=True)
    assert reactions.summary(world.member, [post.id])[post.id][2].count == 0
    login(world.outsider)
    assert client.post(f"/p/{post.id}/reaktion", data={"kind": "herz"}).status_code == 404


def test_thread_page_reactions_are_one_query(world, client, login, count_queries):
    login(world.member)
    with count_queries() as few:
        client.get(f"/t/{world.thread_a.id}")
    for n in range(6):
        post = factories.reply(world.thread_a, world.manager, f"Antwort {n}")
        reactions.set_reaction(world.member, post, "idee", True)
    client.get(f"/t/{world.thread_a.id}")
    with count_queries() as more:
        client.get(f"/t/{world.thread_a.id}")
    assert more.n <= few.n


def test_settings_page_saves_modes(world, client, login):
    login(world.member)
    client.post("/konto/benachrichtigungen", data={"reply": "weekly", "mention": "never", "watched": "bogus"})
    modes = notifications.modes_for([world.member.id])[world.member.id]
    assert modes["reply"] == "weekly" and modes["mention"] == "never" and modes["watched"] == "daily"


def test_watch_rows_are_unique_per_target(world, db):
    watching.set_level(world.member, "board", world.board_a.id, "watching")
    watching.set_level(world.member, "board", world.board_a.id, "muted")
    assert db.session.scalar(select(func.count()).select_from(Watch).where(Watch.target_type == "board")) == 1

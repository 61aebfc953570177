"""Notification mails through a real SMTP server (aiosmtpd on 127.0.0.1): sent by the worker,
never in the request; retried while SMTP is down; each at most once, even with two workers;
digests hold only what the recipient may see when they are sent."""
from __future__ import annotations

import datetime as dt
import re
import socket
import threading

from sqlalchemy import func, select

from forum.models import MailQueue, Membership, utcnow
from forum.services import mailer, notifications, watching
from tests import factories


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


def _later(minutes: int = 0, days: int = 0) -> dt.datetime:
    return utcnow() + dt.timedelta(minutes=minutes, days=days)


def test_reply_mail_arrives_with_text_link_and_one_click_unsubscribe(world, smtp_server, client):
    factories.reply(world.thread_a, world.manager, "Wir nehmen **Praktika** über die Kreishandwerkerschaft.")
    assert smtp_server.messages == []  # nothing is sent in the request
    assert mailer.run_once()["sent"] == 1
    message = smtp_server.messages[0]
    assert message["To"] == world.member.email
    assert "Max Manager hat in Ihrem Thema" in message["Subject"]
    body = _text(message)
    assert "Wir nehmen Praktika über die Kreishandwerkerschaft." in body
    assert re.search(r"http://forum\.test/p/\d+", body)
    html = message.get_body(("html",)).get_content()
    assert "<blockquote>" in html and "Praktika" in html
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.match(r"<(http://forum\.test(/abmelden/\S+))>", message["List-Unsubscribe"]).group(2)
    assert client.get(link).status_code == 200  # confirmation page, no log-in needed
    assert client.post(link, data="List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded").status_code == 200
    assert notifications.modes_for([world.member.id])[world.member.id]["reply"] == "never"
    factories.reply(world.thread_a, world.manager, "Noch eine Antwort")
    mailer.run_once()
    assert len(smtp_server.messages) == 1


def test_forged_unsubscribe_token_is_404(client):
    assert client.post("/abmelden/gefaelscht.token").status_code == 404


def test_each_notification_is_mailed_once(world, smtp_server):
    factories.reply(world.thread_a, world.manager, "Einmal bitte")
    mailer.run_once()
    mailer.run_once()
    mailer.run_once(now=_later(days=8))
    assert len(smtp_server.messages) == 1


def test_no_mail_about_ones_own_actions(world, smtp_server, db):
    factories.reply(world.thread_a, world.member, "Ich antworte mir selbst")
    mailer.run_once(now=_later(days=8))
    assert smtp_server.messages == []
    assert db.session.scalar(select(func.count()).select_from(MailQueue)) == 0


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_smtp_down_keeps_the_mail_and_delivers_it_later_exactly_once(world, smtp_server, app, db):
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = _closed_port()
    factories.reply(world.thread_a, world.manager, "Während der Störung geschrieben")
    first = mailer.run_once()
    assert first["sent"] == 0 and first["retry"] == 1
    row = db.session.scalar(select(MailQueue))
    assert row.status == "pending" and row.attempts == 1 and row.due_at > utcnow()
    second = mailer.run_once()  # still within the backoff: not tried again
    assert second["retry"] == 0 and second["sent"] == 0
    app.config["MAIL_PORT"] = port
    assert mailer.run_once(now=_later(minutes=2))["sent"] == 1
    mailer.run_once(now=_later(minutes=30))
    assert len(smtp_server.messages) == 1
    assert "Während der Störung geschrieben" in _text(smtp_server.messages[0])


def test_backoff_grows_and_is_capped():
    assert mailer._backoff(1) == dt.timedelta(minutes=1)
    assert mailer._backoff(3) == dt.timedelta(minutes=4)
    assert mailer._backoff(30) == mailer.MAX_RETRY


def test_daily_digest_holds_only_what_the_recipient_may_still_see(world, smtp_server, db):
    reader = factories.member(world.cluster_a, factories.user("dora.digest"))
    factories.member(world.cluster_b, reader)
    watching.set_level(reader, "thread", world.thread_a.id, "watching")
    watching.set_level(reader, "thread", world.thread_b.id, "watching")
    factories.reply(world.thread_a, world.manager, "Geheimes aus dem Münsterland")
    factories.reply(world.thread_b, world.outsider, "Neues zur Wärmepumpe")
    factories.reply(world.thread_b, world.manager_b, "Und noch was zur Wärmepumpe")
    mailer.run_once()  # the thread authors' own mails go now; digests wait for the morning
    assert [m["To"] for m in smtp_server.messages].count(reader.email) == 0
    db.session.execute(Membership.__table__.delete().where(Membership.user_id == reader.id,
                                                           Membership.cluster_id == world.cluster_a.id))
    db.session.commit()
    mailer.run_once(now=_later(days=1, minutes=1))
    digests = [m for m in smtp_server.messages if m["To"] == reader.email]
    assert len(digests) == 1
    body = _text(digests[0])
    assert "tägliche Zusammenfassung" in digests[0]["Subject"]
    assert "2 neue Antworten in „Wärmepumpe im Altbau“" in body
    assert "Neues zur Wärmepumpe" in body
    assert "Münsterland" not in body and "Azubis" not in body
    assert digests[0]["List-Unsubscribe"]


def test_weekly_digest_and_never(world, smtp_server, db):
    reader = factories.member(world.cluster_a, factories.user("wanda.woche"))
    notifications.save_modes(reader, {"watched": "weekly"})
    notifications.save_modes(world.member, {"reply": "never"})
    watching.set_level(reader, "thread", world.thread_a.id, "watching")
    factories.reply(world.thread_a, world.manager, "Für die Woche")
    mailer.run_once(now=_later(days=1, minutes=1))
    assert smtp_server.messages == []
    mailer.run_once(now=_later(days=8))
    assert [m["To"] for m in smtp_server.messages] == [reader.email]
    assert "wöchentliche Zusammenfassung" in smtp_server.messages[0]["Subject"]


def test_moderation_kinds_are_mailed_with_their_generic_text(world, smtp_server, db):
    from forum.services.notify import notify
    notifications.save_modes(world.member, {"moderation": "immediate"})
    notify(world.member.id, "report_outcome", world.manager, cluster_id=world.cluster_a.id,
           thread_id=world.thread_a.id)
    db.session.commit()
    mailer.run_once()
    assert "Ihre Meldung wurde bearbeitet" in smtp_server.messages[0]["Subject"]


def test_a_claimed_row_is_not_claimed_again(world, db):
    factories.reply(world.thread_a, world.manager, "Nur einer darf")
    mailer.queue_pending()
    first = mailer.claim("worker-a")
    second = mailer.claim("worker-b")
    assert len(first) == 1 and second == []
    assert mailer.claim("worker-c", now=_later(minutes=10))  # the lease ran out


def test_two_concurrent_workers_never_send_a_mail_twice(world, smtp_server, app, db):
    watchers = []
    for n in range(30):
        person = factories.member(world.cluster_a, factories.user(f"parallel{n}"))
        notifications.save_modes(person, {"watched": "immediate"})
        watching.set_level(person, "thread", world.thread_a.id, "watching")
        watchers.append(person.email)
    factories.reply(world.thread_a, world.manager, "An alle gleichzeitig")
    start = threading.Barrier(2)
    errors = []

    def worker():
        try:
            with app.app_context():
                start.wait()
                mailer.run_once()
        except Exception as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    received = sorted(m["To"] for m in smtp_server.messages)
    assert sorted(watchers + [world.member.email]) == received


def test_cli_send_once(world, smtp_server, runner):
    factories.reply(world.thread_a, world.manager, "Per Kommandozeile")
    result = runner.invoke(args=["notifications", "send", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 Mails versendet" in result.output
    assert len(smtp_server.messages) == 1

"""Notification mails through a real SMTP server (aiosmtpd on 127.0.0.1): sent by the worker,
never in the request; retried while SMTP is down; each at most once, even with two workers;
digests hold only what the recipient may see when they are sent."""
from __future__ import annotations

import contextlib
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


# -- batches: visibility at the time of sending, fixed queries, one connection, crash safety --

def _watchers(world, count: int, prefix: str) -> list:
    people = []
    for n in range(count):
        person = factories.member(world.cluster_a, factories.user(f"{prefix}{n}"))
        notifications.save_modes(person, {"watched": "immediate"})
        watching.set_level(person, "thread", world.thread_a.id, "watching")
        people.append(person)
    return people


def test_a_batch_mails_each_recipient_only_what_they_may_see_when_it_is_sent(world, smtp_server, db):
    stays, leaves, suspended, unsubscribed = _watchers(world, 4, "gemischt")
    digest_reader = factories.member(world.cluster_a, factories.user("dieter.digest"))
    watching.set_level(digest_reader, "thread", world.thread_a.id, "watching")
    factories.reply(world.thread_a, world.manager, "Vertrauliches aus dem Cluster")
    factories.reply(world.thread_b, world.manager_b, "Etwas aus dem anderen Cluster")
    mailer.queue_pending()  # everyone was allowed to see it when it was written
    db.session.execute(Membership.__table__.delete().where(Membership.user_id.in_([leaves.id, digest_reader.id]),
                                                           Membership.cluster_id == world.cluster_a.id))
    suspended.suspended_at = utcnow()
    db.session.commit()
    notifications.save_modes(unsubscribed, {"watched": "never"})
    totals = mailer.run_once(now=_later(days=1, minutes=1))
    received = sorted(m["To"] for m in smtp_server.messages)
    assert received == sorted([stays.email, world.member.email, world.outsider.email])
    assert totals["skipped"] == 4  # left, suspended, unsubscribed, and the digest with nothing left in it
    assert all("Vertrauliches" not in _text(m) for m in smtp_server.messages if m["To"] == world.outsider.email)


def test_building_a_batch_takes_the_same_queries_for_five_or_twenty_five_mails(world, app, db, count_queries):
    from forum.services import mail_content

    def statements_for(prefix: str, count: int) -> int:
        _watchers(world, count, prefix)
        factories.reply(world.thread_a, world.manager, f"Runde {prefix}")
        mailer.queue_pending()
        jobs = [mail_content.QueuedMail.of(row) for row in mailer.claim(prefix)]
        assert len(jobs) >= count
        with app.test_request_context("/", base_url="http://forum.test"), count_queries() as counted:
            messages = mail_content.messages_for(jobs)
        assert sum(message is not None for message in messages.values()) >= count
        return counted.n

    assert statements_for("fuenf", 5) == statements_for("fuenfundzwanzig", 25) <= 7


def test_a_batch_goes_over_one_smtp_connection(world, smtp_server, monkeypatch):
    opened = []
    real_smtp = mailer.smtplib.SMTP

    def counting_smtp(*args, **kwargs):
        opened.append(args)
        return real_smtp(*args, **kwargs)

    monkeypatch.setattr(mailer.smtplib, "SMTP", counting_smtp)
    _watchers(world, 12, "verbindung")
    factories.reply(world.thread_a, world.manager, "Eine Verbindung für alle")
    assert mailer.run_once()["sent"] == 13
    assert len(opened) == 1


def test_a_refused_mail_waits_for_its_retry_while_the_rest_of_the_batch_goes_out(world, smtp_server, db):
    refused, *others = _watchers(world, 3, "abgelehnt")

    async def handle_RCPT(server, session, envelope, address, rcpt_options):
        if address == refused.email:
            return "550 Postfach voll"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.handle_RCPT = handle_RCPT
    factories.reply(world.thread_a, world.manager, "Nicht für jeden sofort")
    first = mailer.run_once()
    assert first["sent"] == 3 and first["retry"] == 1  # two watchers and the thread's author
    assert refused.email not in [m["To"] for m in smtp_server.messages]
    del smtp_server.handle_RCPT
    assert mailer.run_once(now=_later(minutes=2))["sent"] == 1
    mailer.run_once(now=_later(minutes=30))
    received = [m["To"] for m in smtp_server.messages]
    assert sorted(received) == sorted([refused.email, world.member.email] + [p.email for p in others])


class _Crash(BaseException):
    """The worker dies (kill -9) right after the SMTP server took the mail."""


def test_a_worker_that_dies_after_the_send_never_has_the_mail_sent_again(world, smtp_server, monkeypatch, db, caplog):
    real_send = mailer.smtplib.SMTP.send_message

    def send_then_die(self, message, *args, **kwargs):
        real_send(self, message, *args, **kwargs)
        raise _Crash()

    monkeypatch.setattr(mailer.smtplib.SMTP, "send_message", send_then_die)
    factories.reply(world.thread_a, world.manager, "Genau einmal, auch nach einem Absturz")
    with contextlib.suppress(_Crash):
        mailer.run_once()
    monkeypatch.undo()
    assert len(smtp_server.messages) == 1
    assert db.session.scalar(select(MailQueue.status)) == "sending"
    mailer.run_once(now=_later(minutes=10))  # the lease is long over
    mailer.run_once(now=_later(days=8))
    assert len(smtp_server.messages) == 1
    assert "unterbrochen" in caplog.text


def test_a_worker_whose_lease_was_taken_over_sends_nothing(world, smtp_server, app, db):
    factories.reply(world.thread_a, world.manager, "Wer zuletzt den Zuschlag hat")
    mailer.queue_pending()
    slow = mailer.claim("langsam")
    assert len(slow) == 1
    fast = mailer.claim("schnell", now=_later(minutes=6))  # the slow worker's lease ran out
    with app.test_request_context("/", base_url="http://forum.test"):
        assert mailer.send(slow, "langsam")["sent"] == 0
        assert mailer.send(fast, "schnell")["sent"] == 1
    assert len(smtp_server.messages) == 1

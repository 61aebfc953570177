"""Outgoing mail: through SMTP when FORUM_MAIL_SERVER is set, otherwise written to the log."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app


def build(to: str, subject: str, text: str, html: str | None = None,
          headers: dict[str, str] | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="clusterforum")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def deliver(message: EmailMessage) -> None:
    """Sends one message; raises ``smtplib.SMTPException``/``OSError`` when SMTP fails."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        current_app.logger.info("Mail (nicht versendet, FORUM_MAIL_SERVER fehlt) an %s: %s\n%s",
                                message["To"], message["Subject"], message.get_body(("plain",)).get_content())
        return
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        smtp.send_message(message)


def send(to: str, subject: str, text: str, html: str | None = None) -> None:
    deliver(build(to, subject, text, html))

"""Request input that is not valid UTF-8 (issue 15, point 10).

Werkzeug keeps invalid percent-escapes in a query string as they are (``?q=%ED%A0%80`` reads
as the text ``%ED%A0%80``), but raw bytes that are not UTF-8 (``?q=\\xff``, which browsers never
send, scripts may) made ``request.args`` and ``request.full_path`` raise ``UnicodeDecodeError``
wherever they were read, even in the error page: a 500. Such bytes are percent-encoded when the
request is built, so they read exactly like the invalid escapes. Form bodies need nothing: Werkzeug
drops a form it cannot decode, and the form's own validation answers in German. JSON bodies
are checked where the API reads them (``forum/api/common.py``).
"""
from __future__ import annotations

from flask import Flask, Request as FlaskRequest


class Request(FlaskRequest):
    def __init__(self, environ, *args, **kwargs) -> None:
        super().__init__(environ, *args, **kwargs)
        try:
            self.query_string.decode()
        except UnicodeDecodeError:
            # Werkzeug's error handler writes each undecodable byte as %XX (ASCII, so valid UTF-8)
            self.query_string = self.query_string.decode("utf-8", "werkzeug.url_quote").encode()


def init_app(app: Flask) -> None:
    app.request_class = Request

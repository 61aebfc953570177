"""One error module, one shape: German pages for people, JSON for programs.

Services raise ``ServiceError`` subclasses; HTTP errors raised with ``abort`` are answered
the same way. API answers are ``{"error": {"code", "message"}}`` (CONTRACT.md).
"""
from __future__ import annotations

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from forum import limits


class ServiceError(Exception):
    status = 400
    code = "validation"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


class ValidationError(ServiceError):
    status = 400
    code = "validation"


class ConflictError(ServiceError):
    status = 409
    code = "conflict"


class NotAllowedError(ServiceError):
    status = 403
    code = "forbidden"


CODES = {
    400: ("bad_request", _l("Die Anfrage ist ungültig.")),
    401: ("unauthorized", _l("Bitte melden Sie sich an.")),
    403: ("forbidden", _l("Das dürfen Sie leider nicht.")),
    404: ("not_found", _l("Diese Seite gibt es nicht – oder Sie haben keinen Zugang dazu.")),
    405: ("method_not_allowed", _l("Diese Methode ist hier nicht erlaubt.")),
    409: ("conflict", _l("Das steht im Widerspruch zum aktuellen Stand.")),
    413: ("too_large", _l("Die Anfrage ist zu groß.")),
    415: ("unsupported_media_type", _l("Bitte senden Sie JSON.")),
    429: ("rate_limited", _l("Zu viele Anfragen – bitte warten Sie einen Moment.")),
    500: ("internal", _l("Ein interner Fehler ist aufgetreten. Wir kümmern uns darum.")),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str | None = None, code: str | None = None) -> tuple[Response | str, int]:
    default_code, default_message = CODES.get(status, CODES[500] if status >= 500 else CODES[400])
    message = str(message or default_message)
    if wants_json():
        return jsonify(error={"code": code or default_code, "message": message}), status
    return render_template("errors/error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError):
        return error_response(error.status, error.message, error.code)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return error_response(
            400, _l("Das Formular ist abgelaufen oder unvollständig. Bitte laden Sie die Seite neu und versuchen "
                    "Sie es noch einmal."), "csrf"
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        # A message set by the view (abort(400, "…")) is kept; Werkzeug's English defaults are not.
        custom = error.description if error.description != type(error).description else None
        if isinstance(error, RateLimitExceeded):
            # A limit without its own German message would show Flask-Limiter's "20 per 1 minute".
            custom = limits.message(custom if error.limit.error_message else None)
        response = make_response(error_response(status, custom))
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        if status == 401 and wants_json():
            response.headers["WWW-Authenticate"] = 'Bearer realm="clusterforum"'
        if error.code == 429 and getattr(error, "retry_after", None):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("Unbehandelter Fehler", exc_info=error)
        return error_response(500)

"""Response headers that keep the browser strict: no inline script or style, no framing."""
from __future__ import annotations

from flask import Flask, Response, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    # Inside ProxyFix (forum.serving wraps the app after this), so behind a proxy configured
    # with FORUM_PROXY_HOPS the scheme it reports is the one seen here.
    app.wsgi_app = SecureCookies(app.wsgi_app)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if app.config.get("PREFERRED_URL_SCHEME") == "https" or request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.path.startswith("/api/") or response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store" if _private(request) else "no-cache")
        return response


class SecureCookies:
    """Every cookie set in answer to an HTTPS request is marked ``Secure`` — the session, the
    remember-me cookie and any other — so a browser never sends it over plain HTTP. Plain HTTP
    (``make run`` on 127.0.0.1) keeps working: there the cookies stay as they are.
    (``SESSION_COOKIE_SECURE`` would be all or nothing; HttpOnly and SameSite=Lax are set in
    forum/config.py.)"""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("wsgi.url_scheme") != "https":
            return self.wsgi_app(environ, start_response)

        def start(status, headers, exc_info=None):
            headers = [(name, _secure(value) if name.lower() == "set-cookie" else value) for name, value in headers]
            return start_response(status, headers, exc_info)
        return self.wsgi_app(environ, start)


def _secure(cookie: str) -> str:
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    return cookie if "secure" in flags else cookie + "; Secure"


def _private(req) -> bool:
    return "session" in req.cookies or "Authorization" in req.headers

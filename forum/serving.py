"""Production serving: versioned static URLs with long cache lifetimes, and gzip where no
front server compresses (Flask-Compress)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, Response, request
from flask_compress import Compress
from werkzeug.middleware.proxy_fix import ProxyFix

compress = Compress()
YEAR = 365 * 24 * 3600


def init_app(app: Flask) -> None:
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops:
        # Behind nginx or a load balancer the client's address arrives in X-Forwarded-For;
        # trust exactly as many hops as configured, so rate limits count real clients and not
        # the proxy (and clients cannot spoof the header past the last trusted proxy).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.config.setdefault("COMPRESS_ALGORITHM", ["gzip"])
    app.config.setdefault("COMPRESS_LEVEL", 5)
    app.config.setdefault("COMPRESS_MIN_SIZE", 1024)
    app.config.setdefault("COMPRESS_REGISTER", app.config.get("COMPRESS", True))
    compress.init_app(app)
    versions: dict[str, str] = {}

    @app.url_defaults
    def static_version(endpoint: str, values: dict) -> None:
        """``url_for("static", filename=…)`` gets ``?v=<content hash>``: a new file, a new URL."""
        if endpoint != "static" or "v" in values or "filename" not in values:
            return
        filename = values["filename"]
        if filename not in versions or app.debug:
            path = Path(app.static_folder) / filename
            versions[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else ""
        if versions[filename]:
            values["v"] = versions[filename]

    @app.after_request
    def static_cache(response: Response) -> Response:
        if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
            response.cache_control.public = True
            response.cache_control.max_age = YEAR
            response.cache_control.immutable = True
        return response

"""Where a ``next`` parameter may send the browser: a path on this site, nothing else.

Browsers drop tabs and line breaks anywhere in a URL and read ``\\`` as ``/``, so
``/%09/evil.example`` arrives as ``/\\t/evil.example`` and leaves as ``//evil.example`` — a link
to another host. The one helper below parses what is left after dropping control characters,
refuses a backslash, a scheme or a host, and rebuilds the path from its parts.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]")
MAX_LENGTH = 2000


def local_target(raw: object, default: str) -> str:
    """``raw`` when it is a path on this site (with query and fragment), else ``default``."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_LENGTH:
        return default
    target = _CONTROL.sub("", raw)
    if "\\" in target or not target.startswith("/") or target.startswith("//"):
        return default
    try:
        parts = urlsplit(target)
    except ValueError:
        return default
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return default
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Naive UTC, the one form every timestamp column stores (SQLite and PostgreSQL alike)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def isoformat(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")

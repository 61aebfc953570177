"""The job kinds that exist today (more follow: image processing, virus scans, PDF text,
data exports, reports)."""
from __future__ import annotations

from forum.jobs import register

SEARCH_REINDEX = "search.reindex"


@register(SEARCH_REINDEX)
def search_reindex(_payload: dict) -> int:
    """The whole search index from the database (after ``forum import`` or ``forum restore``).
    Another process writing the index raises, so the job is tried again after a backoff."""
    from forum.search import service

    return service.rebuild()

"""API views (filled in by the API module)."""
from forum.api import bp  # noqa: F401

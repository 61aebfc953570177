"""Where each imported corpus record went: ``(kind, corpus id) → local id``.

Importing the same corpus file again looks its records up here and skips them, so an
import is idempotent by the file's ids (``forum.corpus``)."""
from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from forum.extensions import db


class ImportRecord(db.Model):
    __tablename__ = "import_records"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)   # user, cluster, board, thread, post
    corpus_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    local_id: Mapped[int] = mapped_column(Integer)
    # The record's natural key (username, cluster slug, "cluster id/board slug"): a second file
    # that reuses the ids for other records is refused instead of being silently skipped.
    key: Mapped[str] = mapped_column(String(200), default="")

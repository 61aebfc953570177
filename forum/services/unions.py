"""UNION ALL statements with one or two bounded parts per listed row (a board's newest
threads, a thread's first unread posts): each part walks one index range and stops at its
LIMIT, so a list costs the same however large the tables behind it are.

Built with SQLAlchemy's expression language on every request, the parts cost more than
running them (a member of eight clusters: 20 ms); so each statement is a text statement built
once per number of rows, with the rows as parameters (``:r0``, ``:r1`` …).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import ColumnClause, text
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import TextualSelect

MAX_ROWS = 200   # rows per statement: at two parts a row, below SQLite's 500 parts per compound SELECT


class UnionPerRow:
    """``parts(n)`` gives the SELECTs (each with its own ORDER BY and LIMIT) for row ``n``,
    which refer to that row as ``:r{n}``."""

    def __init__(self, parts: Callable[[int], Sequence[str]], columns: Sequence[ColumnClause],
                 binds: Sequence[BindParameter] = ()) -> None:
        self._parts = parts
        self._columns = columns
        self._binds = binds
        self._built: dict[int, TextualSelect] = {}

    def statement(self, rows: Sequence[int], **values) -> TextualSelect:
        """The statement for these rows (at most ``MAX_ROWS``) with ``values`` bound."""
        if len(rows) > MAX_ROWS:
            raise ValueError(f"at most {MAX_ROWS} rows per statement")
        statement = self._built.get(len(rows))
        if statement is None:
            # SQLite takes an ORDER BY/LIMIT per part only inside a subquery
            parts = [f"SELECT * FROM ({part}) AS u{n}_{k}"
                     for n in range(len(rows)) for k, part in enumerate(self._parts(n))]
            statement = text(" UNION ALL ".join(parts)).bindparams(*self._binds).columns(*self._columns)
            self._built[len(rows)] = statement
        return statement.bindparams(**values, **{f"r{n}": row for n, row in enumerate(rows)})

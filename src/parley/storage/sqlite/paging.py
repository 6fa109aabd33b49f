"""Keyset pagination for every list of the SQLite stores: rows by (created_at, rowid), ``rowid``
numbering rows in insertion order so that rows made in one second keep their order.

A cursor is looked up among the caller's own rows (the lookup names the owner), so another owner's
id as ``after`` is an unknown one, an empty page, never a position: a list cannot tell one owner
whether an id of another's exists.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from parley.storage.base import Order


@dataclass(frozen=True)
class Cursor:
    """A page by (created_at, rowid): ``after`` continues forward, ``before`` pages backward.

    ``lookup`` selects the cursor row's (created_at, rowid) given ``lookup_params`` then its id.
    A ``before`` page is read in reverse and flipped, so it holds the rows adjacent to the cursor.
    """

    lookup: str
    lookup_params: list[Any]
    after: str | None
    before: str | None
    limit: int
    order: Order

    def fetch(self, conn: sqlite3.Connection, sql: str, params: list[Any]) -> tuple[list[Any], bool]:
        forward = self.order == "asc"
        where, extra = "", []
        for cursor, op in ((self.after, ">" if forward else "<"), (self.before, "<" if forward else ">")):
            if cursor is not None:
                where += f" AND (created_at, rowid) {op} ({self.lookup})"
                extra += [*self.lookup_params, cursor]
        backward = self.before is not None and self.after is None
        direction = "ASC" if forward != backward else "DESC"
        sql = f"{sql}{where} ORDER BY created_at {direction}, rowid {direction} LIMIT ?"
        rows = conn.execute(sql, [*params, *extra, self.limit + 1]).fetchall()
        page = rows[: self.limit]
        return (page[::-1] if backward else page), len(rows) > self.limit

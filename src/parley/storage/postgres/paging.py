"""Keyset pagination for every list of the PostgreSQL stores, as ``storage/sqlite/paging.py`` does
it for SQLite's: ``seq`` (an identity column) takes the place of ``rowid``, and the lookup, which
names the owner, takes the cursor's id as a numbered parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parley.storage.base import Order
from parley.storage.postgres.migrations import Connection


@dataclass(frozen=True)
class Cursor:
    """A page by (created_at, seq): ``after`` continues forward, ``before`` pages backward.

    ``lookup`` selects the cursor row's (created_at, seq), ``{}`` standing for the cursor's id; it
    may use the page query's own parameters. A ``before`` page is read in reverse and flipped, so
    it holds the rows adjacent to the cursor.
    """

    lookup: str
    after: str | None
    before: str | None
    limit: int
    order: Order

    async def fetch(self, conn: Connection, sql: str, params: list[Any]) -> tuple[list[Any], bool]:
        forward = self.order == "asc"
        args = list(params)
        for cursor, op in ((self.after, ">" if forward else "<"), (self.before, "<" if forward else ">")):
            if cursor is not None:
                args.append(cursor)
                sql += f" AND (created_at, seq) {op} ({self.lookup.format(f'${len(args)}')})"
        backward = self.before is not None and self.after is None
        direction = "ASC" if forward != backward else "DESC"
        args.append(self.limit + 1)
        sql += f" ORDER BY created_at {direction}, seq {direction} LIMIT ${len(args)}"
        rows = await conn.fetch(sql, *args)
        page = rows[: self.limit]
        return (page[::-1] if backward else page), len(rows) > self.limit

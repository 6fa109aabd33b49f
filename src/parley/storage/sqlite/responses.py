"""Stored responses in SQLite.

A turn writes one ``responses`` row and only its own items (this turn's input,
then its output) into ``response_items``; continuing a chain reads every
ancestor's items back with one recursive, indexed query. So turn N costs what
turn 1 costs, plus one read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any

import orjson

from parley.storage.base import EVERY_RESPONSE, Item, Order, Page, ResponseFilter
from parley.storage.sqlite.conversations import append_items
from parley.storage.sqlite.database import Database, execute_rows, transaction
from parley.storage.sqlite.migrations import REASONING_OUTPUT
from parley.storage.sqlite.paging import Cursor

_CHAIN_ITEMS = """
WITH RECURSIVE chain (id, previous, depth) AS (
    SELECT id, previous_response_id, 0 FROM responses WHERE id = ? AND owner = ? AND worker IS NULL
    UNION ALL
    SELECT r.id, r.previous_response_id, chain.depth + 1
    FROM responses r JOIN chain ON r.id = chain.previous
)
SELECT chain.depth, i.data
FROM chain LEFT JOIN response_items i ON i.response_id = chain.id
ORDER BY chain.depth DESC, i.position
"""


_INSERT_RESPONSES = "INSERT INTO responses (id, owner, previous_response_id, created_at, status, data) VALUES"
_ON_CONFLICT = "ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data, worker = NULL"
"""Every write of a response but ``begin`` is its end (or a background job's own row): it is no
longer a running worker's."""
_UPSERT_RESPONSE = f"{_INSERT_RESPONSES} (?, ?, ?, ?, ?, ?) {_ON_CONFLICT}"
_INSERT_ITEMS = "INSERT INTO response_items (response_id, position, kind, item_id, owner, data) VALUES"


MODEL = "json_extract(CAST(data AS TEXT), '$.model')"
"""A response's model, read from its document (orjson's bytes, which SQLite's JSON reads as text)."""


class SqliteResponseStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, response: dict[str, Any], owner: str) -> None:
        row = _response_row(response, owner)
        self._db.submit(lambda conn: conn.execute(_UPSERT_RESPONSE, row))

    async def begin(self, response: dict[str, Any], owner: str, worker: str) -> None:
        row = (*_response_row(response, owner), worker)
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO responses (id, owner, previous_response_id, created_at, status, data, worker)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    async def running(self) -> list[tuple[str, str, str]]:
        return await self._db.run(
            lambda conn: conn.execute(
                "SELECT id, owner, worker FROM responses WHERE worker IS NOT NULL"
            ).fetchall()
        )

    async def save(
        self,
        response: dict[str, Any],
        input_items: list[Item],
        owner: str,
        conversation_id: str | None = None,
    ) -> None:
        rid = response["id"]
        kinds = [("input", item) for item in input_items] + [("output", item) for item in response["output"]]
        items = [
            (rid, pos, kind, item["id"], owner, orjson.dumps(item)) for pos, (kind, item) in enumerate(kinds)
        ]
        appended = [*input_items, *response["output"]] if response["status"] != "failed" else []
        added = (conversation_id, owner, appended) if conversation_id is not None and appended else None
        await self._db.write_grouped(_write_responses, (_response_row(response, owner), items, added))

    async def items(self, item_ids: Collection[str], owner: str) -> dict[str, Item]:
        ids = list(item_ids)
        sql = (
            "SELECT item_id, data FROM response_items"
            f" WHERE {REASONING_OUTPUT} AND owner = ? AND item_id IN ({', '.join('?' * len(ids))})"
        )

        def read(conn: sqlite3.Connection) -> dict[str, Item]:
            return {item_id: orjson.loads(data) for item_id, data in conn.execute(sql, (owner, *ids))}

        return await self._db.run(read) if ids else {}

    async def get(self, response_id: str, owner: str) -> dict[str, Any] | None:
        row = await self._db.run(
            lambda conn: conn.execute(
                "SELECT data FROM responses WHERE id = ? AND owner = ?", (response_id, owner)
            ).fetchone()
        )
        return None if row is None else _loads(row[0])

    async def history(self, response_id: str, owner: str) -> list[Item] | None:
        rows = await self._db.run(lambda conn: conn.execute(_CHAIN_ITEMS, (response_id, owner)).fetchall())
        if not rows:
            return None
        return [_loads(data) for _, data in rows if data is not None]

    async def input_items(
        self, response_id: str, owner: str, *, after: str | None, before: str | None, limit: int, order: Order
    ) -> Page | None:
        def read(conn: sqlite3.Connection) -> Page | None:
            if (
                conn.execute(
                    "SELECT 1 FROM responses WHERE id = ? AND owner = ?", (response_id, owner)
                ).fetchone()
                is None
            ):
                return None
            sql = "SELECT data FROM response_items WHERE response_id = ? AND kind = 'input'"
            params: list[Any] = [response_id]
            for cursor, op in (
                (after, ">" if order == "asc" else "<"),
                (before, "<" if order == "asc" else ">"),
            ):
                if cursor is not None:
                    sql += (
                        f" AND position {op} (SELECT position FROM response_items"
                        " WHERE response_id = ? AND item_id = ? AND kind = 'input')"
                    )
                    params += [response_id, cursor]
            sql += f" ORDER BY position {'ASC' if order == 'asc' else 'DESC'} LIMIT ?"
            params.append(limit + 1)
            rows = conn.execute(sql, params).fetchall()
            return Page([_loads(r[0]) for r in rows[:limit]], has_more=len(rows) > limit)

        return await self._db.run(read)

    async def list(
        self,
        owner: str,
        *,
        after: str | None,
        limit: int,
        order: Order,
        only: ResponseFilter = EVERY_RESPONSE,
    ) -> Page:
        """Newest or oldest first by creation (``paging.Cursor``)."""
        lookup = "SELECT created_at, rowid FROM responses WHERE owner = ? AND id = ?"
        page = Cursor(lookup, [owner], after, None, limit, order)

        def read(conn: sqlite3.Connection) -> Page:
            sql = "SELECT data FROM responses WHERE owner = ?"
            params: list[Any] = [owner]
            for comparison, value in only.conditions(MODEL):
                sql += f" AND {comparison} ?"
                params.append(value)
            rows, has_more = page.fetch(conn, sql, params)
            return Page([_loads(r[0]) for r in rows], has_more=has_more)

        return await self._db.run(read)

    async def delete(self, response_id: str, owner: str) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            # A response still running in some worker is not there to delete yet (as in one process,
            # where it is only in that process's registry): its end would write it back.
            cur = conn.execute(
                "DELETE FROM responses WHERE id = ? AND owner = ? AND worker IS NULL", (response_id, owner)
            )
            if cur.rowcount == 0:
                return False
            conn.execute("DELETE FROM response_events WHERE response_id = ?", (response_id,))
            conn.execute("DELETE FROM background_jobs WHERE response_id = ?", (response_id,))
            return True

        return await self._db.run(lambda conn: transaction(conn, write))

    async def aclose(self) -> None:
        await self._db.aclose()


def _write_responses(conn: sqlite3.Connection, saves: list[tuple[Any, ...]]) -> None:
    """Finished responses, each with its items (any it had are replaced) and, on a conversation,
    its items appended there: one statement per kind for them all (``Database.write_grouped``)."""
    ids = orjson.dumps([row[0] for row, _, _ in saves])
    conn.execute("DELETE FROM response_items WHERE response_id IN (SELECT value FROM json_each(?))", (ids,))
    execute_rows(conn, _INSERT_RESPONSES, [row for row, _, _ in saves], _ON_CONFLICT)
    execute_rows(conn, _INSERT_ITEMS, [item for _, items, _ in saves for item in items])
    for _, _, added in saves:
        if added is not None:
            append_items(conn, *added)


def write_response_row(conn: sqlite3.Connection, response: dict[str, Any], owner: str) -> None:
    """The response row alone, inserted or replaced (for a writer inside its own transaction)."""
    conn.execute(_UPSERT_RESPONSE, _response_row(response, owner))


def _response_row(response: dict[str, Any], owner: str) -> tuple[Any, ...]:
    return (
        response["id"],
        owner,
        response["previous_response_id"],
        response["created_at"],
        response["status"],
        orjson.dumps(response),
    )


def _loads(data: bytes | str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(data)
    return value

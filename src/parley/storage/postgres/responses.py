"""Stored responses in PostgreSQL: the same rows as SQLite's (``sqlite/responses.py``), the same one
recursive query for a chain, so turn N costs what turn 1 costs, plus one read."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson

from parley.storage.base import EVERY_RESPONSE, Item, Order, Page, ResponseFilter
from parley.storage.postgres.conversations import append_items
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.migrations import Connection
from parley.storage.postgres.paging import Cursor

_CHAIN_ITEMS = """
WITH RECURSIVE chain (id, previous, depth) AS (
    SELECT id, previous_response_id, 0 FROM responses WHERE id = $1 AND owner = $2 AND worker IS NULL
    UNION ALL
    SELECT r.id, r.previous_response_id, chain.depth + 1
    FROM responses r JOIN chain ON r.id = chain.previous
)
SELECT i.data
FROM chain LEFT JOIN response_items i ON i.response_id = chain.id
ORDER BY chain.depth DESC, i.position
"""
_COLUMNS = "id, owner, previous_response_id, created_at, status, data"
_UPSERT_RESPONSE = (
    f"INSERT INTO responses ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data, worker = NULL"
)
"""Every write of a response but ``begin`` is its end (or a background job's own row): it is no
longer a running worker's."""
_INSERT_ITEMS = """
INSERT INTO response_items (response_id, position, kind, item_id, owner, data)
SELECT $1, position - 1, kind, item_id, $2, data
FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t (kind, item_id, data, position)
"""
"""A response's items in one statement, one round trip, whatever their number."""
_REASONING_OUTPUT = "kind = 'output' AND left(item_id, 3) = 'rs_'"


class PgResponseStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def record(self, response: dict[str, Any], owner: str) -> None:
        row = _response_row(response, owner)

        async def write(conn: Connection) -> None:
            await conn.execute(_UPSERT_RESPONSE, *row)

        self._db.submit(write)

    async def begin(self, response: dict[str, Any], owner: str, worker: str) -> None:
        await self._db.execute(
            f"INSERT INTO responses ({_COLUMNS}, worker) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            *_response_row(response, owner),
            worker,
        )

    async def running(self) -> list[tuple[str, str, str]]:
        rows = await self._db.fetch("SELECT id, owner, worker FROM responses WHERE worker IS NOT NULL")
        return [(row["id"], row["owner"], row["worker"]) for row in rows]

    async def save(
        self,
        response: dict[str, Any],
        input_items: list[Item],
        owner: str,
        conversation_id: str | None = None,
    ) -> None:
        items = [("input", item) for item in input_items] + [("output", item) for item in response["output"]]
        appended = [*input_items, *response["output"]] if response["status"] != "failed" else []
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM response_items WHERE response_id = $1", response["id"])
            await conn.execute(_UPSERT_RESPONSE, *_response_row(response, owner))
            if items:
                await conn.execute(
                    _INSERT_ITEMS,
                    response["id"],
                    owner,
                    [kind for kind, _ in items],
                    [item["id"] for _, item in items],
                    [_dumps(item) for _, item in items],
                )
            if conversation_id is not None and appended:
                await append_items(conn, conversation_id, owner, appended)

    async def items(self, item_ids: Collection[str], owner: str) -> dict[str, Item]:
        if not item_ids:
            return {}
        rows = await self._db.fetch(
            f"SELECT item_id, data FROM response_items WHERE {_REASONING_OUTPUT}"
            " AND owner = $1 AND item_id = ANY($2::text[])",
            owner,
            list(item_ids),
        )
        return {row["item_id"]: orjson.loads(row["data"]) for row in rows}

    async def get(self, response_id: str, owner: str) -> dict[str, Any] | None:
        row = await self._db.fetchrow(
            "SELECT data FROM responses WHERE id = $1 AND owner = $2", response_id, owner
        )
        return None if row is None else _loads(row["data"])

    async def history(self, response_id: str, owner: str) -> list[Item] | None:
        rows = await self._db.fetch(_CHAIN_ITEMS, response_id, owner)
        if not rows:
            return None
        return [_loads(row["data"]) for row in rows if row["data"] is not None]

    async def input_items(
        self, response_id: str, owner: str, *, after: str | None, before: str | None, limit: int, order: Order
    ) -> Page | None:
        sql = "SELECT data FROM response_items WHERE response_id = $1 AND kind = 'input'"
        params: list[Any] = [response_id]
        for cursor, op in ((after, ">" if order == "asc" else "<"), (before, "<" if order == "asc" else ">")):
            if cursor is not None:
                params.append(cursor)
                sql += (
                    f" AND position {op} (SELECT position FROM response_items"
                    f" WHERE response_id = $1 AND item_id = ${len(params)} AND kind = 'input')"
                )
        params.append(limit + 1)
        sql += f" ORDER BY position {'ASC' if order == 'asc' else 'DESC'} LIMIT ${len(params)}"
        async with self._db.connection() as conn:
            exists = await conn.fetchval(
                "SELECT 1 FROM responses WHERE id = $1 AND owner = $2", response_id, owner
            )
            if exists is None:
                return None
            rows = await conn.fetch(sql, *params)
        return Page([_loads(row["data"]) for row in rows[:limit]], has_more=len(rows) > limit)

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
        lookup = "SELECT created_at, seq FROM responses WHERE owner = $1 AND id = {}"
        page = Cursor(lookup, after, None, limit, order)
        sql = "SELECT data FROM responses WHERE owner = $1"
        params: list[Any] = [owner]
        for comparison, value in only.conditions("data::json ->> 'model'"):
            params.append(value)
            sql += f" AND {comparison} ${len(params)}"
        async with self._db.connection() as conn:
            rows, has_more = await page.fetch(conn, sql, params)
        return Page([_loads(row["data"]) for row in rows], has_more=has_more)

    async def delete(self, response_id: str, owner: str) -> bool:
        async with self._db.transaction() as conn:
            # A response still running in some worker is not there to delete yet: its end would
            # write it back (``sqlite/responses.py`` says the same).
            deleted = await conn.execute(
                "DELETE FROM responses WHERE id = $1 AND owner = $2 AND worker IS NULL", response_id, owner
            )
            if deleted == "DELETE 0":
                return False
            await conn.execute("DELETE FROM response_events WHERE response_id = $1", response_id)
            await conn.execute("DELETE FROM background_jobs WHERE response_id = $1", response_id)
            return True

    async def aclose(self) -> None:
        await self._db.aclose()


async def write_response_row(conn: Connection, response: dict[str, Any], owner: str) -> None:
    """The response row alone, inserted or replaced (for a writer inside its own transaction)."""
    await conn.execute(_UPSERT_RESPONSE, *_response_row(response, owner))


def _response_row(response: dict[str, Any], owner: str) -> tuple[Any, ...]:
    return (
        response["id"],
        owner,
        response["previous_response_id"],
        response["created_at"],
        response["status"],
        _dumps(response),
    )


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _loads(data: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(data)
    return value

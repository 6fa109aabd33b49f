"""Conversations and their items in PostgreSQL: the layout of ``sqlite/conversations.py`` (items
keyed by (conversation, position), a turn's context one range read). Where SQLite's one writer
made the position probe and the insert atomic, here the conversation's row is locked (``FOR
UPDATE``) for the rest of the appending transaction: replicas appending at once take turns."""

from __future__ import annotations

from typing import Any

import orjson

from parley.storage.base import Item, Order, Page
from parley.storage.kept_items import KeptItems
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.migrations import Connection
from parley.storage.postgres.paging import Cursor

_LOCK_CONVERSATION = "SELECT 1 FROM conversations WHERE id = $1 AND owner = $2 FOR UPDATE"
_NEXT_POSITION = "SELECT COALESCE(MAX(position), -1) + 1 FROM conversation_items WHERE conversation_id = $1"
_INSERT_ITEMS = """
INSERT INTO conversation_items (conversation_id, position, item_id, owner, data)
SELECT $1, $2 + position - 1, item_id, $3, data
FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS t (item_id, data, position)
"""
_ITEMS_AFTER = """
SELECT c.deletions, i.position, i.data
FROM conversations c LEFT JOIN conversation_items i ON i.conversation_id = c.id AND i.position > $1
WHERE c.id = $2 AND c.owner = $3 ORDER BY i.position
"""
_CONVERSATION = "SELECT id, created_at, metadata FROM conversations WHERE id = $1 AND owner = $2"
_POSITION_OF = (
    "SELECT MAX(position) FROM conversation_items WHERE conversation_id = $1 AND item_id = $3 AND owner = $2"
)


async def append_items(conn: Connection, conversation_id: str, owner: str, items: list[Item]) -> bool:
    """Append in order, in the caller's transaction; False (nothing written) when the conversation
    is missing for this owner."""
    if await conn.fetchval(_LOCK_CONVERSATION, conversation_id, owner) is None:
        return False
    start = await conn.fetchval(_NEXT_POSITION, conversation_id)
    await conn.execute(
        _INSERT_ITEMS,
        conversation_id,
        start,
        owner,
        [item["id"] for item in items],
        [orjson.dumps(item).decode() for item in items],
    )
    return True


class PgConversationStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        self._kept = KeptItems()

    async def create(self, conversation: dict[str, Any], items: list[Item], owner: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO conversations (id, owner, created_at, metadata) VALUES ($1, $2, $3, $4::json)",
                conversation["id"],
                owner,
                conversation["created_at"],
                _dumps(conversation["metadata"]),
            )
            await append_items(conn, conversation["id"], owner, items)

    async def get(self, conversation_id: str, owner: str) -> dict[str, Any] | None:
        return _conversation(await self._db.fetchrow(_CONVERSATION, conversation_id, owner))

    async def update(
        self, conversation_id: str, owner: str, metadata: dict[str, str]
    ) -> dict[str, Any] | None:
        row = await self._db.fetchrow(
            "UPDATE conversations SET metadata = $3::json WHERE id = $1 AND owner = $2"
            " RETURNING id, created_at, metadata",
            conversation_id,
            owner,
            _dumps(metadata),
        )
        return _conversation(row)

    async def delete(self, conversation_id: str, owner: str) -> bool:
        """Its items go too (ON DELETE CASCADE)."""
        done = await self._db.execute(
            "DELETE FROM conversations WHERE id = $1 AND owner = $2", conversation_id, owner
        )
        return done != "DELETE 0"

    async def add_items(self, conversation_id: str, owner: str, items: list[Item]) -> list[Item] | None:
        async with self._db.transaction() as conn:
            added = await append_items(conn, conversation_id, owner, items)
        return items if added else None

    async def items(
        self, conversation_id: str, owner: str, *, after: str | None, limit: int, order: Order
    ) -> Page | None:
        """A page by position; an ``after`` naming no item of this conversation gives an empty page."""
        direction, op = ("ASC", ">") if order == "asc" else ("DESC", "<")
        sql = "SELECT data FROM conversation_items WHERE conversation_id = $1 AND owner = $2"
        params: list[Any] = [conversation_id, owner]
        if after is not None:
            params.append(after)
            sql += f" AND position {op} ({_POSITION_OF})"
        params.append(limit + 1)
        sql += f" ORDER BY position {direction} LIMIT ${len(params)}"
        async with self._db.connection() as conn:
            if (
                await conn.fetchval("SELECT 1 FROM conversations WHERE id = $1 AND owner = $2", *params[:2])
                is None
            ):
                return None
            rows = await conn.fetch(sql, *params)
        return Page([_loads(row["data"]) for row in rows[:limit]], has_more=len(rows) > limit)

    async def all_items(self, conversation_id: str, owner: str) -> list[Item] | None:
        """Every item, oldest first, the rows appended since the last call only read (``KeptItems``)."""

        async def rows_after(after: int) -> list[Any]:
            return await self._db.fetch(_ITEMS_AFTER, after, conversation_id, owner)

        return await self._kept.all_items(owner, conversation_id, rows_after)

    async def get_item(self, conversation_id: str, item_id: str, owner: str) -> Item | None:
        """The newest item with this id (a caller may have sent one id twice)."""
        row = await self._db.fetchrow(
            "SELECT data FROM conversation_items WHERE conversation_id = $1 AND item_id = $2 AND owner = $3"
            " ORDER BY position DESC LIMIT 1",
            conversation_id,
            item_id,
            owner,
        )
        return None if row is None else _loads(row["data"])

    async def delete_item(self, conversation_id: str, item_id: str, owner: str) -> bool:
        async with self._db.transaction() as conn:
            done = await conn.execute(
                "DELETE FROM conversation_items WHERE conversation_id = $1 AND item_id = $2 AND owner = $3",
                conversation_id,
                item_id,
                owner,
            )
            if done == "DELETE 0":
                return False
            await conn.execute(
                "UPDATE conversations SET deletions = deletions + 1 WHERE id = $1 AND owner = $2",
                conversation_id,
                owner,
            )
            return True

    async def list(self, owner: str, *, after: str | None, limit: int, order: Order) -> Page:
        """Newest or oldest first (``paging.Cursor``); ``conversations_owner_created`` serves the
        whole read."""
        lookup = "SELECT created_at, seq FROM conversations WHERE owner = $1 AND id = {}"
        page = Cursor(lookup, after, None, limit, order)
        sql = "SELECT id, created_at, metadata FROM conversations WHERE owner = $1"
        async with self._db.connection() as conn:
            rows, has_more = await page.fetch(conn, sql, [owner])
        return Page([_row_conversation(row) for row in rows], has_more=has_more)


def _conversation(row: Any) -> dict[str, Any] | None:
    return None if row is None else _row_conversation(row)


def _row_conversation(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "conversation",
        "created_at": row["created_at"],
        "metadata": _loads(row["metadata"]),
    }


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _loads(data: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(data)
    return value

"""Conversations and their items in SQLite.

Items sit in ``conversation_items`` keyed by (conversation, position), positions strictly
increasing per conversation, so a response's whole context is one range read of the primary
key, and appending a turn is one ``MAX(position)`` probe plus one ``executemany``: a turn on
a conversation of 1,000 items costs what one on 10 items costs. ``append_items`` is a plain
function so that the response store can call it inside its own transaction, and a response
and the items it adds to its conversation are written together or not at all.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from parley.storage.base import Item, Order, Page
from parley.storage.kept_items import KeptItems
from parley.storage.sqlite.database import Database, transaction
from parley.storage.sqlite.paging import Cursor

_NEXT_POSITION = """
SELECT COALESCE((SELECT MAX(position) FROM conversation_items WHERE conversation_id = ?), -1) + 1
FROM conversations WHERE id = ? AND owner = ?
"""
_ITEMS_AFTER = """
SELECT c.deletions, i.position, i.data
FROM conversations c LEFT JOIN conversation_items i ON i.conversation_id = c.id AND i.position > ?
WHERE c.id = ? AND c.owner = ? ORDER BY i.position
"""
_EXISTS = "SELECT 1 FROM conversations WHERE id = ? AND owner = ?"
_DELETED = "UPDATE conversations SET deletions = deletions + 1 WHERE id = ? AND owner = ?"
_POSITION_OF = (
    "SELECT MAX(position) FROM conversation_items WHERE conversation_id = ? AND item_id = ? AND owner = ?"
)


def append_items(conn: sqlite3.Connection, conversation_id: str, owner: str, items: list[Item]) -> bool:
    """Append in order with one executemany; False (nothing written) when the conversation is gone.

    Runs inside the caller's transaction: the position probe and the insert see the same state
    because the single writer thread holds ``BEGIN IMMEDIATE`` around both.
    """
    row = conn.execute(_NEXT_POSITION, (conversation_id, conversation_id, owner)).fetchone()
    if row is None:
        return False
    start: int = row[0]
    conn.executemany(
        "INSERT INTO conversation_items (conversation_id, position, item_id, owner, data)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (conversation_id, start + offset, item["id"], owner, orjson.dumps(item))
            for offset, item in enumerate(items)
        ],
    )
    return True


class SqliteConversationStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._kept = KeptItems()

    async def create(self, conversation: dict[str, Any], items: list[Item], owner: str) -> None:
        row = (conversation["id"], owner, conversation["created_at"], _dumps(conversation["metadata"]))

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO conversations (id, owner, created_at, metadata) VALUES (?, ?, ?, ?)", row
            )
            append_items(conn, conversation["id"], owner, items)

        await self._db.run(lambda conn: transaction(conn, write))

    async def get(self, conversation_id: str, owner: str) -> dict[str, Any] | None:
        return await self._db.run(lambda conn: _conversation(conn, conversation_id, owner))

    async def update(
        self, conversation_id: str, owner: str, metadata: dict[str, str]
    ) -> dict[str, Any] | None:
        params = (_dumps(metadata), conversation_id, owner)

        def write(conn: sqlite3.Connection) -> dict[str, Any] | None:
            conn.execute("UPDATE conversations SET metadata = ? WHERE id = ? AND owner = ?", params)
            return _conversation(conn, conversation_id, owner)

        return await self._db.run(lambda conn: transaction(conn, write))

    async def delete(self, conversation_id: str, owner: str) -> bool:
        """Its items go too (ON DELETE CASCADE)."""

        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            )
            return cur.rowcount > 0

        return await self._db.run(lambda conn: transaction(conn, write))

    async def add_items(self, conversation_id: str, owner: str, items: list[Item]) -> list[Item] | None:
        added = await self._db.run(
            lambda conn: transaction(conn, lambda c: append_items(c, conversation_id, owner, items))
        )
        return items if added else None

    async def items(
        self, conversation_id: str, owner: str, *, after: str | None, limit: int, order: Order
    ) -> Page | None:
        """A page by position; an ``after`` naming no item of this conversation gives an empty page."""
        direction, op = ("ASC", ">") if order == "asc" else ("DESC", "<")
        sql = "SELECT data FROM conversation_items WHERE conversation_id = ? AND owner = ?"
        params: list[Any] = [conversation_id, owner]
        if after is not None:
            sql += f" AND position {op} ({_POSITION_OF})"
            params += [conversation_id, after, owner]
        sql += f" ORDER BY position {direction} LIMIT ?"
        params.append(limit + 1)

        def read(conn: sqlite3.Connection) -> Page | None:
            if conn.execute(_EXISTS, (conversation_id, owner)).fetchone() is None:
                return None
            rows = conn.execute(sql, params).fetchall()
            return Page([_loads(r[0]) for r in rows[:limit]], has_more=len(rows) > limit)

        return await self._db.run(read)

    async def all_items(self, conversation_id: str, owner: str) -> list[Item] | None:
        """Every item, oldest first, the rows appended since the last call only read (``KeptItems``)."""

        async def rows_after(after: int) -> list[Any]:
            params = (after, conversation_id, owner)
            return await self._db.run(lambda conn: conn.execute(_ITEMS_AFTER, params).fetchall())

        return await self._kept.all_items(owner, conversation_id, rows_after)

    async def get_item(self, conversation_id: str, item_id: str, owner: str) -> Item | None:
        """The newest item with this id (a caller may have sent one id twice)."""
        sql = (
            "SELECT data FROM conversation_items WHERE conversation_id = ? AND item_id = ? AND owner = ?"
            " ORDER BY position DESC LIMIT 1"
        )
        row = await self._db.run(lambda conn: conn.execute(sql, (conversation_id, item_id, owner)).fetchone())
        return None if row is None else _loads(row[0])

    async def delete_item(self, conversation_id: str, item_id: str, owner: str) -> bool:
        sql = "DELETE FROM conversation_items WHERE conversation_id = ? AND item_id = ? AND owner = ?"

        def write(conn: sqlite3.Connection) -> bool:
            if conn.execute(sql, (conversation_id, item_id, owner)).rowcount == 0:
                return False
            conn.execute(_DELETED, (conversation_id, owner))
            return True

        return await self._db.run(lambda conn: transaction(conn, write))

    async def list(self, owner: str, *, after: str | None, limit: int, order: Order) -> Page:
        """Newest or oldest first (``paging.Cursor``); ``conversations_owner_created`` (which holds
        the rowid) serves the whole read."""
        lookup = "SELECT created_at, rowid FROM conversations WHERE owner = ? AND id = ?"
        page = Cursor(lookup, [owner], after, None, limit, order)
        sql = "SELECT id, created_at, metadata FROM conversations WHERE owner = ?"
        rows, has_more = await self._db.run(lambda conn: page.fetch(conn, sql, [owner]))
        return Page([_row_conversation(row) for row in rows], has_more=has_more)


def _conversation(conn: sqlite3.Connection, conversation_id: str, owner: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT id, created_at, metadata FROM conversations WHERE id = ? AND owner = ?",
        (conversation_id, owner),
    ).fetchone()
    return None if row is None else _row_conversation(row)


def _row_conversation(row: Any) -> dict[str, Any]:
    """A row of (id, created_at, metadata) as the API shows a conversation."""
    return {"id": row[0], "object": "conversation", "created_at": row[1], "metadata": _loads(row[2])}


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _loads(data: bytes | str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(data)
    return value

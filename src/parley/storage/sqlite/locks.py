"""Locks across processes in SQLite: a row per held lock, taken in one short transaction."""

from __future__ import annotations

import sqlite3

from parley.storage.sqlite.database import Database, transaction


class SqliteLocks:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(self, name: str, holder: str) -> str:
        def write(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT INTO locks (name, holder) VALUES (?, ?) ON CONFLICT DO NOTHING", (name, holder)
            )
            row = conn.execute("SELECT holder FROM locks WHERE name = ?", (name,)).fetchone()
            return str(row[0])

        return await self._db.run(lambda conn: transaction(conn, write))

    async def release(self, name: str, holder: str) -> None:
        await self._db.run(
            lambda conn: conn.execute("DELETE FROM locks WHERE name = ? AND holder = ?", (name, holder))
        )

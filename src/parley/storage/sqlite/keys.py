"""API keys in SQLite: one row per key, its digest unique."""

from __future__ import annotations

import sqlite3

from parley.storage.keys import ApiKey
from parley.storage.sqlite.database import Database

_COLUMNS = "id, owner, admin, name, shown, created_at, revoked_at"


def _key(row: tuple[str, str, int, str, str, int, int | None]) -> ApiKey:
    return ApiKey(row[0], row[1], bool(row[2]), row[3], row[4], row[5], row[6])


class SqliteKeyStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, key: ApiKey, key_digest: str) -> None:
        row = (key.id, key.owner, int(key.admin), key.name, key.shown, key.created_at, key_digest)
        sql = (
            "INSERT INTO api_keys (id, owner, admin, name, shown, created_at, digest)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        await self._db.run(lambda conn: conn.execute(sql, row))

    async def active(self) -> dict[str, ApiKey]:
        def read(conn: sqlite3.Connection) -> dict[str, ApiKey]:
            sql = f"SELECT digest, {_COLUMNS} FROM api_keys WHERE revoked_at IS NULL"
            return {row[0]: _key(row[1:]) for row in conn.execute(sql)}

        return await self._db.run(read)

    async def all(self) -> list[ApiKey]:
        sql = f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, rowid"
        return await self._db.run(lambda conn: [_key(row) for row in conn.execute(sql)])

    async def revoke(self, key_id: str, when: int) -> bool:
        sql = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        cursor = await self._db.run(lambda conn: conn.execute(sql, (when, key_id)))
        return cursor.rowcount == 1

"""Uploaded files' metadata in SQLite (the bytes are in ``storage.blobs``).

Expiry is applied at read time: an expired row answers like a missing one in every read, so
nothing has to sweep the table for the API to be right.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from parley.storage.base import Order, Page
from parley.storage.library import FileRecord
from parley.storage.sqlite.database import Database, transaction
from parley.storage.sqlite.paging import Cursor

_COLUMNS = "id, filename, bytes, purpose, created_at, expires_at, sha256"
_LIVE = "(expires_at IS NULL OR expires_at > ?)"


class SqliteFileStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    async def add(self, record: FileRecord, owner: str) -> None:
        row = (
            record.id,
            owner,
            record.filename,
            record.bytes,
            record.purpose,
            record.created_at,
            record.expires_at,
            record.sha256,
        )

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO files (id, owner, filename, bytes, purpose, created_at, expires_at, sha256)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

        await self._db.run(lambda conn: transaction(conn, write))

    async def get(self, file_id: str, owner: str) -> FileRecord | None:
        found = await self.get_many([file_id], owner)
        return found.get(file_id)

    async def get_many(self, file_ids: list[str], owner: str) -> dict[str, FileRecord]:
        if not file_ids:
            return {}
        marks = ", ".join("?" for _ in file_ids)
        sql = f"SELECT {_COLUMNS} FROM files WHERE owner = ? AND {_LIVE} AND id IN ({marks})"
        params = [owner, self._now(), *file_ids]
        rows = await self._db.run(lambda conn: conn.execute(sql, params).fetchall())
        return {row[0]: _record(row) for row in rows}

    async def delete(self, file_id: str, owner: str) -> FileRecord | None:
        now = self._now()

        def write(conn: sqlite3.Connection) -> FileRecord | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM files WHERE id = ? AND owner = ? AND {_LIVE}", (file_id, owner, now)
            ).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM files WHERE id = ?", (file_id,))
            return _record(row)

        return await self._db.run(lambda conn: transaction(conn, write))

    async def sha256_in_use(self, sha256: str) -> bool:
        """Expired rows count too: their bytes go when the row is deleted, not before."""
        row = await self._db.run(
            lambda conn: conn.execute("SELECT 1 FROM files WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone()
        )
        return row is not None

    async def find_by_sha256(self, sha256: str, owner: str) -> list[FileRecord]:
        sql = f"SELECT {_COLUMNS} FROM files WHERE sha256 = ? AND owner = ? AND {_LIVE} ORDER BY created_at"
        params = (sha256, owner, self._now())
        rows = await self._db.run(lambda conn: conn.execute(sql, params).fetchall())
        return [_record(r) for r in rows]

    async def list(
        self, owner: str, *, purpose: str | None, after: str | None, limit: int, order: Order
    ) -> Page:
        """By creation time (``paging.Cursor``)."""
        lookup = "SELECT created_at, rowid FROM files WHERE owner = ? AND id = ?"
        page = Cursor(lookup, [owner], after, None, limit, order)
        sql = f"SELECT {_COLUMNS} FROM files WHERE owner = ? AND {_LIVE}"
        params: list[Any] = [owner, self._now()]
        if purpose is not None:
            sql += " AND purpose = ?"
            params.append(purpose)
        rows, has_more = await self._db.run(lambda conn: page.fetch(conn, sql, params))
        return Page([_record(r).wire() for r in rows], has_more=has_more)


def _record(row: tuple[Any, ...]) -> FileRecord:
    return FileRecord(
        id=row[0],
        filename=row[1],
        bytes=row[2],
        purpose=row[3],
        created_at=row[4],
        expires_at=row[5],
        sha256=row[6],
    )

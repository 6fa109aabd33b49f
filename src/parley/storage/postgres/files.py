"""Uploaded files' metadata in PostgreSQL: the rows of ``sqlite/files.py``, expiry applied at read
time as there. Where SQLite reads the row and then deletes it on its one writer thread, here one
``DELETE ... RETURNING`` does both, so two replicas deleting one file never both get it back (and
both drop its blob). ``seq`` (insertion order, migration p003) breaks ties as ``rowid`` does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from parley.storage.base import Order, Page
from parley.storage.library import FileRecord
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.paging import Cursor

_COLUMNS = "id, filename, bytes, purpose, created_at, expires_at, sha256"
_INSERT = (
    "INSERT INTO files (id, owner, filename, bytes, purpose, created_at, expires_at, sha256)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)


def _live(now: str) -> str:
    """The condition that a row has not expired, ``now`` being its placeholder."""
    return f"(expires_at IS NULL OR expires_at > {now})"


class PgFileStore:
    def __init__(self, db: PgDatabase, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    async def add(self, record: FileRecord, owner: str) -> None:
        await self._db.execute(
            _INSERT,
            record.id,
            owner,
            record.filename,
            record.bytes,
            record.purpose,
            record.created_at,
            record.expires_at,
            record.sha256,
        )

    async def get(self, file_id: str, owner: str) -> FileRecord | None:
        found = await self.get_many([file_id], owner)
        return found.get(file_id)

    async def get_many(self, file_ids: list[str], owner: str) -> dict[str, FileRecord]:
        if not file_ids:
            return {}
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS} FROM files WHERE owner = $1 AND {_live('$2')} AND id = ANY($3::text[])",
            owner,
            self._now(),
            file_ids,
        )
        return {row["id"]: _record(row) for row in rows}

    async def delete(self, file_id: str, owner: str) -> FileRecord | None:
        row = await self._db.fetchrow(
            f"DELETE FROM files WHERE id = $1 AND owner = $2 AND {_live('$3')} RETURNING {_COLUMNS}",
            file_id,
            owner,
            self._now(),
        )
        return None if row is None else _record(row)

    async def sha256_in_use(self, sha256: str) -> bool:
        """Expired rows count too: their bytes go when the row is deleted, not before."""
        row = await self._db.fetchrow("SELECT 1 FROM files WHERE sha256 = $1 LIMIT 1", sha256)
        return row is not None

    async def find_by_sha256(self, sha256: str, owner: str) -> list[FileRecord]:
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS} FROM files WHERE sha256 = $1 AND owner = $2 AND {_live('$3')}"
            " ORDER BY created_at, seq",
            sha256,
            owner,
            self._now(),
        )
        return [_record(row) for row in rows]

    async def list(
        self, owner: str, *, purpose: str | None, after: str | None, limit: int, order: Order
    ) -> Page:
        """By creation time (``paging.Cursor``)."""
        lookup = "SELECT created_at, seq FROM files WHERE owner = $1 AND id = {}"
        page = Cursor(lookup, after, None, limit, order)
        sql = f"SELECT {_COLUMNS} FROM files WHERE owner = $1 AND {_live('$2')}"
        params: list[Any] = [owner, self._now()]
        if purpose is not None:
            params.append(purpose)
            sql += f" AND purpose = ${len(params)}"
        async with self._db.connection() as conn:
            rows, has_more = await page.fetch(conn, sql, params)
        return Page([_record(row).wire() for row in rows], has_more=has_more)


def _record(row: Any) -> FileRecord:
    return FileRecord(
        id=row["id"],
        filename=row["filename"],
        bytes=row["bytes"],
        purpose=row["purpose"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        sha256=row["sha256"],
    )

"""Vector stores, their files and file batches in SQLite.

File counts and ``usage_bytes`` are aggregated from ``vector_store_files`` on every read
rather than kept as counters, so they cannot drift from the rows they count. The per-file
and per-batch SQL lives in ``vector_store_files``.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import orjson

from parley.storage.background import Claim
from parley.storage.base import Order
from parley.storage.library import FileBatchRecord, FileListQuery, VectorStoreFileRecord
from parley.storage.library import VectorStoreRecord as Record
from parley.storage.sqlite import vector_store_files as files_sql
from parley.storage.sqlite.database import Database, transaction
from parley.storage.sqlite.paging import Cursor

_COLUMNS = (
    "id, name, created_at, last_active_at, metadata, expires_after_days, embedding_model, embedding_dimension"
)
_COUNTS = """
SELECT status, COUNT(*), SUM(CASE WHEN status = 'completed' THEN usage_bytes ELSE 0 END)
FROM vector_store_files WHERE vector_store_id = ? GROUP BY status
"""
_UPDATABLE = {"name": "name", "metadata": "metadata", "expires_after_days": "expires_after_days"}


class SqliteVectorStoreStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, record: Record, owner: str) -> None:
        row = (
            record.id,
            owner,
            record.name,
            record.created_at,
            record.last_active_at,
            orjson.dumps(record.metadata).decode(),
            record.expires_after_days,
            record.embedding_model,
            record.embedding_dimension,
        )
        sql = (
            "INSERT INTO vector_stores (id, owner, name, created_at, last_active_at, metadata,"
            " expires_after_days, embedding_model, embedding_dimension) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        await self._db.run(lambda conn: transaction(conn, lambda c: c.execute(sql, row)))

    async def get(self, store_id: str, owner: str) -> Record | None:
        def read(conn: sqlite3.Connection) -> Record | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM vector_stores WHERE id = ? AND owner = ?", (store_id, owner)
            ).fetchone()
            return None if row is None else _with_counts(conn, row)

        return await self._db.run(read)

    async def find_by_name(self, name: str, owner: str) -> Record | None:
        def read(conn: sqlite3.Connection) -> Record | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM vector_stores WHERE name = ? AND owner = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (name, owner),
            ).fetchone()
            return None if row is None else _with_counts(conn, row)

        return await self._db.run(read)

    async def update(self, store_id: str, owner: str, changes: dict[str, Any]) -> Record | None:
        values = {k: v for k, v in changes.items() if k in _UPDATABLE}
        if "metadata" in values:
            values["metadata"] = orjson.dumps(values["metadata"]).decode()

        def write(conn: sqlite3.Connection) -> None:
            for key, value in values.items():
                conn.execute(
                    f"UPDATE vector_stores SET {_UPDATABLE[key]} = ? WHERE id = ? AND owner = ?",
                    (value, store_id, owner),
                )

        await self._db.run(lambda conn: transaction(conn, write))
        return await self.get(store_id, owner)

    async def touch(self, store_id: str, owner: str, now: int) -> None:
        sql = "UPDATE vector_stores SET last_active_at = MAX(last_active_at, ?) WHERE id = ? AND owner = ?"
        await self._db.run(lambda conn: conn.execute(sql, (now, store_id, owner)))

    async def delete(self, store_id: str, owner: str) -> bool:
        """Files and batches go with the store (ON DELETE CASCADE)."""

        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM vector_stores WHERE id = ? AND owner = ?", (store_id, owner))
            return cur.rowcount > 0

        return await self._db.run(lambda conn: transaction(conn, write))

    async def attach(
        self, files: list[VectorStoreFileRecord], owner: str, claim: Claim | None = None
    ) -> None:
        await self._db.run(lambda conn: transaction(conn, lambda c: files_sql.attach(c, files, owner, claim)))

    async def get_file(self, store_id: str, file_id: str, owner: str) -> VectorStoreFileRecord | None:
        return await self._db.run(lambda conn: files_sql.get_file(conn, store_id, file_id, owner))

    async def list_files(
        self, store_id: str, owner: str, query: FileListQuery
    ) -> tuple[list[VectorStoreFileRecord], bool]:
        return await self._db.run(lambda conn: files_sql.list_files(conn, store_id, owner, query))

    async def finish_file(self, record: VectorStoreFileRecord, owner: str, worker: str | None = None) -> bool:
        return await self._db.run(
            lambda conn: transaction(conn, lambda c: files_sql.finish(c, record, owner, worker))
        )

    async def set_attributes(
        self, store_id: str, file_id: str, owner: str, attributes: dict[str, str | float | bool]
    ) -> VectorStoreFileRecord | None:
        sql = (
            "UPDATE vector_store_files SET attributes = ?"
            " WHERE vector_store_id = ? AND file_id = ? AND owner = ?"
        )
        params = (orjson.dumps(attributes).decode(), store_id, file_id, owner)
        await self._db.run(lambda conn: conn.execute(sql, params))
        return await self.get_file(store_id, file_id, owner)

    async def detach(self, store_id: str, file_id: str, owner: str) -> bool:
        sql = "DELETE FROM vector_store_files WHERE vector_store_id = ? AND file_id = ? AND owner = ?"
        cur = await self._db.run(lambda conn: conn.execute(sql, (store_id, file_id, owner)))
        return cur.rowcount > 0

    async def stores_of_file(self, file_id: str, owner: str) -> list[str]:
        sql = "SELECT vector_store_id FROM vector_store_files WHERE file_id = ? AND owner = ?"
        rows = await self._db.run(lambda conn: conn.execute(sql, (file_id, owner)).fetchall())
        return [row[0] for row in rows]

    async def find_file_by_sha256(
        self, store_id: str, sha256: str, owner: str
    ) -> VectorStoreFileRecord | None:
        return await self._db.run(lambda conn: files_sql.find_by_sha256(conn, store_id, sha256, owner))

    async def unfinished(self) -> list[tuple[str, VectorStoreFileRecord]]:
        return await self._db.run(files_sql.unfinished)

    async def claim_unfinished(self, worker: str, lease: float) -> list[tuple[str, VectorStoreFileRecord]]:
        return await self._db.run(
            lambda conn: transaction(conn, lambda c: files_sql.claim_unfinished(c, worker, lease))
        )

    async def renew_claims(self, worker: str, lease: float) -> None:
        sql = "UPDATE vector_store_files SET lease_until = ? WHERE worker = ? AND status = 'in_progress'"
        await self._db.run(lambda conn: conn.execute(sql, (time.time() + lease, worker)))

    async def release_claims(self, worker: str) -> None:
        sql = (
            "UPDATE vector_store_files SET worker = NULL, lease_until = NULL"
            " WHERE worker = ? AND status = 'in_progress'"
        )
        await self._db.run(lambda conn: conn.execute(sql, (worker,)))

    async def create_batch(self, batch: FileBatchRecord, owner: str) -> None:
        sql = (
            "INSERT INTO vector_store_file_batches (id, vector_store_id, owner, created_at)"
            " VALUES (?, ?, ?, ?)"
        )
        row = (batch.id, batch.vector_store_id, owner, batch.created_at)
        await self._db.run(lambda conn: transaction(conn, lambda c: c.execute(sql, row)))

    async def get_batch(self, store_id: str, batch_id: str, owner: str) -> FileBatchRecord | None:
        return await self._db.run(lambda conn: files_sql.get_batch(conn, store_id, batch_id, owner))

    async def cancel_batch(self, store_id: str, batch_id: str, owner: str) -> FileBatchRecord | None:
        def write(conn: sqlite3.Connection) -> FileBatchRecord | None:
            files_sql.cancel_batch(conn, store_id, batch_id, owner)
            return files_sql.get_batch(conn, store_id, batch_id, owner)

        return await self._db.run(lambda conn: transaction(conn, write))

    async def list(
        self, owner: str, *, after: str | None, before: str | None, limit: int, order: Order
    ) -> tuple[list[Record], bool]:
        lookup = "SELECT created_at, rowid FROM vector_stores WHERE owner = ? AND id = ?"
        page = Cursor(lookup, [owner], after, before, limit, order)

        def read(conn: sqlite3.Connection) -> tuple[list[Record], bool]:
            sql = f"SELECT {_COLUMNS} FROM vector_stores WHERE owner = ?"
            rows, has_more = page.fetch(conn, sql, [owner])
            return [_with_counts(conn, row) for row in rows], has_more

        return await self._db.run(read)


def _with_counts(conn: sqlite3.Connection, row: tuple[Any, ...]) -> Record:
    counts: dict[str, int] = {}
    usage = 0
    for status, count, usage_bytes in conn.execute(_COUNTS, (row[0],)):
        counts[status] = count
        usage += usage_bytes or 0
    return Record(
        id=row[0],
        name=row[1],
        created_at=row[2],
        last_active_at=row[3],
        metadata=orjson.loads(row[4]),
        expires_after_days=row[5],
        embedding_model=row[6],
        embedding_dimension=row[7],
        file_counts=counts,
        usage_bytes=usage,
    )

"""Vector stores, their files and file batches in PostgreSQL, as ``sqlite/vector_stores.py``.

Counts and ``usage_bytes`` are aggregated from ``vector_store_files`` on every read, as there,
but for a whole page of stores in one grouped query rather than one per store (a round trip costs
more here than a call into SQLite). Every write that SQLite split into steps on its one writer is
one statement or one transaction here. The per-file and per-batch SQL is in
``vector_store_files``; the claims on files in progress are explained there.
"""

from __future__ import annotations

from typing import Any

import orjson

from parley.storage.background import Claim
from parley.storage.base import Order
from parley.storage.library import FileBatchRecord, FileListQuery, VectorStoreFileRecord
from parley.storage.library import VectorStoreRecord as Record
from parley.storage.postgres import vector_store_files as files_sql
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.migrations import Connection
from parley.storage.postgres.paging import Cursor

_COLUMNS = (
    "id, name, created_at, last_active_at, metadata, expires_after_days, embedding_model, embedding_dimension"
)
_INSERT = (
    "INSERT INTO vector_stores (id, owner, name, created_at, last_active_at, metadata,"
    " expires_after_days, embedding_model, embedding_dimension)"
    " VALUES ($1, $2, $3, $4, $5, $6::json, $7, $8, $9)"
)
_COUNTS = """
SELECT vector_store_id, status, COUNT(*) AS n,
    SUM(CASE WHEN status = 'completed' THEN usage_bytes ELSE 0 END)::bigint AS usage_bytes
FROM vector_store_files WHERE vector_store_id = ANY($1::text[]) GROUP BY vector_store_id, status
"""
_UPDATABLE = {"name": "name", "metadata": "metadata", "expires_after_days": "expires_after_days"}
_SET_CLAIMS = (
    f"UPDATE vector_store_files SET worker = $1, lease_until = {files_sql.NOW} + $2::float8"
    " WHERE worker = $3 AND status = 'in_progress'"
)


class PgVectorStoreStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def create(self, record: Record, owner: str) -> None:
        await self._db.execute(
            _INSERT,
            record.id,
            owner,
            record.name,
            record.created_at,
            record.last_active_at,
            _dumps(record.metadata),
            record.expires_after_days,
            record.embedding_model,
            record.embedding_dimension,
        )

    async def get(self, store_id: str, owner: str) -> Record | None:
        async with self._db.connection() as conn:
            return await _get(conn, store_id, owner)

    async def find_by_name(self, name: str, owner: str) -> Record | None:
        sql = (
            f"SELECT {_COLUMNS} FROM vector_stores WHERE name = $1 AND owner = $2"
            " ORDER BY created_at DESC, seq DESC LIMIT 1"
        )
        async with self._db.connection() as conn:
            found = await _with_counts(conn, await conn.fetch(sql, name, owner))
        return found[0] if found else None

    async def update(self, store_id: str, owner: str, changes: dict[str, Any]) -> Record | None:
        """One ``UPDATE`` of whichever fields are given, then the store as it now is."""
        values = {_UPDATABLE[k]: v for k, v in changes.items() if k in _UPDATABLE}
        if "metadata" in values:
            values["metadata"] = _dumps(values["metadata"])
        sets = ", ".join(
            f"{column} = ${n}{'::json' if column == 'metadata' else ''}"
            for n, column in enumerate(values, start=3)
        )
        async with self._db.transaction() as conn:
            if sets:
                await conn.execute(
                    f"UPDATE vector_stores SET {sets} WHERE id = $1 AND owner = $2",
                    store_id,
                    owner,
                    *values.values(),
                )
            return await _get(conn, store_id, owner)

    async def touch(self, store_id: str, owner: str, now: int) -> None:
        await self._db.execute(
            "UPDATE vector_stores SET last_active_at = GREATEST(last_active_at, $1)"
            " WHERE id = $2 AND owner = $3",
            now,
            store_id,
            owner,
        )

    async def delete(self, store_id: str, owner: str) -> bool:
        """Files and batches go with the store (ON DELETE CASCADE)."""
        done = await self._db.execute(
            "DELETE FROM vector_stores WHERE id = $1 AND owner = $2", store_id, owner
        )
        return done != "DELETE 0"

    async def attach(
        self, files: list[VectorStoreFileRecord], owner: str, claim: Claim | None = None
    ) -> None:
        async with self._db.connection() as conn:
            await files_sql.attach(conn, files, owner, claim)

    async def get_file(self, store_id: str, file_id: str, owner: str) -> VectorStoreFileRecord | None:
        async with self._db.connection() as conn:
            return await files_sql.get_file(conn, store_id, file_id, owner)

    async def list_files(
        self, store_id: str, owner: str, query: FileListQuery
    ) -> tuple[list[VectorStoreFileRecord], bool]:
        async with self._db.connection() as conn:
            return await files_sql.list_files(conn, store_id, owner, query)

    async def finish_file(self, record: VectorStoreFileRecord, owner: str, worker: str | None = None) -> bool:
        async with self._db.connection() as conn:
            return await files_sql.finish(conn, record, owner, worker)

    async def set_attributes(
        self, store_id: str, file_id: str, owner: str, attributes: dict[str, str | float | bool]
    ) -> VectorStoreFileRecord | None:
        async with self._db.connection() as conn:
            return await files_sql.set_attributes(conn, store_id, file_id, owner, attributes)

    async def detach(self, store_id: str, file_id: str, owner: str) -> bool:
        done = await self._db.execute(
            "DELETE FROM vector_store_files WHERE vector_store_id = $1 AND file_id = $2 AND owner = $3",
            store_id,
            file_id,
            owner,
        )
        return done != "DELETE 0"

    async def stores_of_file(self, file_id: str, owner: str) -> list[str]:
        rows = await self._db.fetch(
            "SELECT vector_store_id FROM vector_store_files WHERE file_id = $1 AND owner = $2", file_id, owner
        )
        return [row["vector_store_id"] for row in rows]

    async def find_file_by_sha256(
        self, store_id: str, sha256: str, owner: str
    ) -> VectorStoreFileRecord | None:
        async with self._db.connection() as conn:
            return await files_sql.find_by_sha256(conn, store_id, sha256, owner)

    async def unfinished(self) -> list[tuple[str, VectorStoreFileRecord]]:
        async with self._db.connection() as conn:
            return await files_sql.unfinished(conn)

    async def claim_unfinished(self, worker: str, lease: float) -> list[tuple[str, VectorStoreFileRecord]]:
        async with self._db.connection() as conn:
            return await files_sql.claim_unfinished(conn, worker, lease)

    async def renew_claims(self, worker: str, lease: float) -> None:
        await self._db.execute(_SET_CLAIMS, worker, lease, worker)

    async def release_claims(self, worker: str) -> None:
        await self._db.execute(_SET_CLAIMS, None, None, worker)

    async def create_batch(self, batch: FileBatchRecord, owner: str) -> None:
        await self._db.execute(
            "INSERT INTO vector_store_file_batches (id, vector_store_id, owner, created_at)"
            " VALUES ($1, $2, $3, $4)",
            batch.id,
            batch.vector_store_id,
            owner,
            batch.created_at,
        )

    async def get_batch(self, store_id: str, batch_id: str, owner: str) -> FileBatchRecord | None:
        async with self._db.connection() as conn:
            return await files_sql.get_batch(conn, store_id, batch_id, owner)

    async def cancel_batch(self, store_id: str, batch_id: str, owner: str) -> FileBatchRecord | None:
        async with self._db.transaction() as conn:
            await files_sql.cancel_batch(conn, store_id, batch_id, owner)
            return await files_sql.get_batch(conn, store_id, batch_id, owner)

    async def list(
        self, owner: str, *, after: str | None, before: str | None, limit: int, order: Order
    ) -> tuple[list[Record], bool]:
        lookup = "SELECT created_at, seq FROM vector_stores WHERE owner = $1 AND id = {}"
        page = Cursor(lookup, after, before, limit, order)
        async with self._db.connection() as conn:
            rows, has_more = await page.fetch(
                conn, f"SELECT {_COLUMNS} FROM vector_stores WHERE owner = $1", [owner]
            )
            return await _with_counts(conn, rows), has_more


async def _get(conn: Connection, store_id: str, owner: str) -> Record | None:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM vector_stores WHERE id = $1 AND owner = $2", store_id, owner
    )
    found = await _with_counts(conn, rows)
    return found[0] if found else None


async def _with_counts(conn: Connection, rows: list[Any]) -> list[Record]:
    """The stores of ``rows``, in their order, each with its file counts and usage."""
    counts: dict[str, dict[str, int]] = {row["id"]: {} for row in rows}
    usage = dict.fromkeys(counts, 0)
    if rows:
        for count in await conn.fetch(_COUNTS, list(counts)):
            counts[count["vector_store_id"]][count["status"]] = count["n"]
            usage[count["vector_store_id"]] += count["usage_bytes"] or 0
    return [
        Record(
            id=row["id"],
            name=row["name"],
            created_at=row["created_at"],
            last_active_at=row["last_active_at"],
            metadata=orjson.loads(row["metadata"]),
            expires_after_days=row["expires_after_days"],
            embedding_model=row["embedding_model"],
            embedding_dimension=row["embedding_dimension"],
            file_counts=counts[row["id"]],
            usage_bytes=usage[row["id"]],
        )
        for row in rows
    ]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()

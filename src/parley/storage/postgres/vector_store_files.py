"""SQL for vector-store files and file batches in PostgreSQL, as ``sqlite/vector_store_files.py``.

Plain functions over a connection, so ``PgVectorStoreStore`` composes them in one transaction.
SQLite claims files with one ``UPDATE`` that its single writer runs alone; here replicas claim at
once, so the claim locks the rows it takes with ``FOR UPDATE SKIP LOCKED``: a file another replica
is claiming right now is skipped, not waited for, and never taken twice. Attributes and chunking
strategies are JSON (orjson text cast on the way in, decoded on the way out); ``seq`` breaks
ties of ``created_at`` as ``rowid`` does. Leases are on the database's clock, not each replica's,
so replicas whose clocks disagree still agree on when a lease ran out.
"""

from __future__ import annotations

from typing import Any, cast

import orjson

from parley.storage.background import Claim
from parley.storage.library import FileBatchRecord, FileListQuery, VectorStoreFileRecord
from parley.storage.library import VectorStoreFileStatus as Status
from parley.storage.postgres.migrations import CLOCK, Connection
from parley.storage.postgres.paging import Cursor

_NAMES = (
    "vector_store_id",
    "file_id",
    "created_at",
    "status",
    "last_error",
    "attributes",
    "chunking_strategy",
    "usage_bytes",
    "batch_id",
    "sha256",
)
_COLUMNS = ", ".join(_NAMES)
NOW = CLOCK
_UPSERT = f"""
INSERT INTO vector_store_files ({_COLUMNS}, owner, worker, lease_until)
SELECT vector_store_id, file_id, created_at, status, last_error, attributes::json,
    chunking_strategy::json, usage_bytes, batch_id, sha256, $11, $12::text, {NOW} + $13::float8
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::bigint[], $9::text[], $10::text[]) WITH ORDINALITY AS t ({_COLUMNS}, position)
ORDER BY position
ON CONFLICT (vector_store_id, file_id) DO UPDATE SET
    created_at = excluded.created_at, status = excluded.status, last_error = excluded.last_error,
    attributes = excluded.attributes, chunking_strategy = excluded.chunking_strategy,
    usage_bytes = excluded.usage_bytes, batch_id = excluded.batch_id, sha256 = excluded.sha256,
    worker = excluded.worker, lease_until = excluded.lease_until
"""
_FINISH = """
UPDATE vector_store_files
SET status = $1, last_error = $2, usage_bytes = $3, worker = NULL, lease_until = NULL
WHERE vector_store_id = $4 AND file_id = $5 AND owner = $6 AND status = 'in_progress'
    AND ($7::text IS NULL OR worker = $7)
"""
_CLAIM = f"""
WITH free AS (
    SELECT vector_store_id, file_id FROM vector_store_files
    WHERE status = 'in_progress' AND (worker IS NULL OR lease_until < {NOW})
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE vector_store_files f SET worker = $1, lease_until = {NOW} + $2
    FROM free WHERE f.vector_store_id = free.vector_store_id AND f.file_id = free.file_id
    RETURNING f.seq, f.owner, {", ".join(f"f.{name}" for name in _NAMES)}
)
SELECT owner, {_COLUMNS} FROM claimed ORDER BY created_at, seq
"""


async def attach(
    conn: Connection, files: list[VectorStoreFileRecord], owner: str, claim: Claim | None
) -> None:
    """One statement for all the files. A file named twice is written once, where it first
    appears, with its last state (what SQLite's row-by-row upsert leaves)."""
    if not files:
        return
    last = {(f.vector_store_id, f.file_id): f for f in files}
    columns = zip(*(_row(f) for f in last.values()), strict=True)
    worker, lease = claim or (None, None)
    await conn.execute(_UPSERT, *(list(column) for column in columns), owner, worker, lease)


async def get_file(conn: Connection, store_id: str, file_id: str, owner: str) -> VectorStoreFileRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM vector_store_files"
        " WHERE vector_store_id = $1 AND file_id = $2 AND owner = $3",
        store_id,
        file_id,
        owner,
    )
    return None if row is None else _record(row)


async def list_files(
    conn: Connection, store_id: str, owner: str, query: FileListQuery
) -> tuple[list[VectorStoreFileRecord], bool]:
    lookup = "SELECT created_at, seq FROM vector_store_files WHERE vector_store_id = $1 AND file_id = {}"
    cursor = Cursor(lookup, query.after, query.before, query.limit, query.order)
    sql = f"SELECT {_COLUMNS} FROM vector_store_files WHERE vector_store_id = $1 AND owner = $2"
    params: list[Any] = [store_id, owner]
    if query.status is not None:
        params.append(query.status)
        sql += f" AND status = ${len(params)}"
    if query.batch_id is not None:
        params.append(query.batch_id)
        sql += f" AND batch_id = ${len(params)}"
    rows, has_more = await cursor.fetch(conn, sql, params)
    return [_record(row) for row in rows], has_more


async def finish(conn: Connection, record: VectorStoreFileRecord, owner: str, worker: str | None) -> bool:
    """One conditional ``UPDATE``: a worker whose claim was taken over finds no row to change."""
    error = None if record.last_error is None else _dumps(record.last_error)
    done = await conn.execute(
        _FINISH,
        record.status,
        error,
        record.usage_bytes,
        record.vector_store_id,
        record.file_id,
        owner,
        worker,
    )
    return done != "UPDATE 0"


async def set_attributes(
    conn: Connection, store_id: str, file_id: str, owner: str, attributes: dict[str, str | float | bool]
) -> VectorStoreFileRecord | None:
    row = await conn.fetchrow(
        "UPDATE vector_store_files SET attributes = $4::json"
        f" WHERE vector_store_id = $1 AND file_id = $2 AND owner = $3 RETURNING {_COLUMNS}",
        store_id,
        file_id,
        owner,
        _dumps(attributes),
    )
    return None if row is None else _record(row)


async def find_by_sha256(
    conn: Connection, store_id: str, sha256: str, owner: str
) -> VectorStoreFileRecord | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM vector_store_files WHERE vector_store_id = $1 AND sha256 = $2 AND owner = $3"
        " ORDER BY status = 'completed' DESC, created_at DESC, seq DESC LIMIT 1",
        store_id,
        sha256,
        owner,
    )
    return None if row is None else _record(row)


async def unfinished(conn: Connection) -> list[tuple[str, VectorStoreFileRecord]]:
    rows = await conn.fetch(
        f"SELECT owner, {_COLUMNS} FROM vector_store_files WHERE status = 'in_progress'"
        " ORDER BY created_at, seq"
    )
    return [(row["owner"], _record(row)) for row in rows]


async def claim_unfinished(
    conn: Connection, worker: str, lease: float
) -> list[tuple[str, VectorStoreFileRecord]]:
    rows = await conn.fetch(_CLAIM, worker, lease)
    return [(row["owner"], _record(row)) for row in rows]


async def get_batch(conn: Connection, store_id: str, batch_id: str, owner: str) -> FileBatchRecord | None:
    row = await conn.fetchrow(
        "SELECT id, vector_store_id, created_at, cancelled FROM vector_store_file_batches"
        " WHERE id = $1 AND vector_store_id = $2 AND owner = $3",
        batch_id,
        store_id,
        owner,
    )
    if row is None:
        return None
    counts = await conn.fetch(
        "SELECT status, COUNT(*) AS n FROM vector_store_files WHERE batch_id = $1 GROUP BY status", batch_id
    )
    return FileBatchRecord(
        row["id"],
        row["vector_store_id"],
        row["created_at"],
        row["cancelled"],
        {count["status"]: count["n"] for count in counts},
    )


async def cancel_batch(conn: Connection, store_id: str, batch_id: str, owner: str) -> None:
    """Only a batch with work left becomes ``cancelled``; a finished one keeps its outcome."""
    pending = await conn.execute(
        "UPDATE vector_store_files SET status = 'cancelled'"
        " WHERE batch_id = $1 AND vector_store_id = $2 AND owner = $3 AND status = 'in_progress'",
        batch_id,
        store_id,
        owner,
    )
    if pending != "UPDATE 0":
        await conn.execute(
            "UPDATE vector_store_file_batches SET cancelled = true"
            " WHERE id = $1 AND vector_store_id = $2 AND owner = $3",
            batch_id,
            store_id,
            owner,
        )


def _row(f: VectorStoreFileRecord) -> tuple[Any, ...]:
    return (
        f.vector_store_id,
        f.file_id,
        f.created_at,
        f.status,
        None if f.last_error is None else _dumps(f.last_error),
        _dumps(f.attributes),
        _dumps(f.chunking_strategy),
        f.usage_bytes,
        f.batch_id,
        f.sha256,
    )


def _record(row: Any) -> VectorStoreFileRecord:
    return VectorStoreFileRecord(
        vector_store_id=row["vector_store_id"],
        file_id=row["file_id"],
        created_at=row["created_at"],
        status=cast(Status, row["status"]),
        last_error=None if row["last_error"] is None else orjson.loads(row["last_error"]),
        attributes=orjson.loads(row["attributes"]),
        chunking_strategy=orjson.loads(row["chunking_strategy"]),
        usage_bytes=row["usage_bytes"],
        batch_id=row["batch_id"],
        sha256=row["sha256"],
    )


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()

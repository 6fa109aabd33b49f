"""SQL for vector-store files and file batches, run on the database thread.

Plain functions over a connection so ``SqliteVectorStoreStore`` can compose them inside one
transaction. Lists page with ``paging.Cursor``, as every list of the SQLite stores does.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, cast

import orjson

from parley.storage.background import Claim
from parley.storage.library import FileBatchRecord, FileListQuery, VectorStoreFileRecord
from parley.storage.library import VectorStoreFileStatus as Status
from parley.storage.sqlite.paging import Cursor

_COLUMNS = (
    "vector_store_id, file_id, created_at, status, last_error, attributes, chunking_strategy,"
    " usage_bytes, batch_id, sha256"
)
_UPSERT = f"""
INSERT INTO vector_store_files ({_COLUMNS}, owner, worker, lease_until)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (vector_store_id, file_id) DO UPDATE SET
    created_at = excluded.created_at, status = excluded.status, last_error = excluded.last_error,
    attributes = excluded.attributes, chunking_strategy = excluded.chunking_strategy,
    usage_bytes = excluded.usage_bytes, batch_id = excluded.batch_id, sha256 = excluded.sha256,
    worker = excluded.worker, lease_until = excluded.lease_until
"""
_FINISH = """
UPDATE vector_store_files SET status = ?, last_error = ?, usage_bytes = ?, worker = NULL, lease_until = NULL
WHERE vector_store_id = ? AND file_id = ? AND owner = ? AND status = 'in_progress'
    AND (? IS NULL OR worker = ?)
"""
_CLAIM = f"""
UPDATE vector_store_files SET worker = ?, lease_until = ?
WHERE status = 'in_progress' AND (worker IS NULL OR lease_until < ?)
RETURNING rowid, owner, {_COLUMNS}
"""


def attach(
    conn: sqlite3.Connection, files: list[VectorStoreFileRecord], owner: str, claim: Claim | None
) -> None:
    worker, lease_until = (claim[0], time.time() + claim[1]) if claim else (None, None)
    conn.executemany(_UPSERT, [(*_row(f), owner, worker, lease_until) for f in files])


def get_file(
    conn: sqlite3.Connection, store_id: str, file_id: str, owner: str
) -> VectorStoreFileRecord | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM vector_store_files WHERE vector_store_id = ? AND file_id = ? AND owner = ?",
        (store_id, file_id, owner),
    ).fetchone()
    return None if row is None else _record(row)


def list_files(
    conn: sqlite3.Connection, store_id: str, owner: str, query: FileListQuery
) -> tuple[list[VectorStoreFileRecord], bool]:
    lookup = "SELECT created_at, rowid FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?"
    cursor = Cursor(lookup, [store_id], query.after, query.before, query.limit, query.order)
    sql = f"SELECT {_COLUMNS} FROM vector_store_files WHERE vector_store_id = ? AND owner = ?"
    params: list[Any] = [store_id, owner]
    if query.status is not None:
        sql += " AND status = ?"
        params.append(query.status)
    if query.batch_id is not None:
        sql += " AND batch_id = ?"
        params.append(query.batch_id)
    rows, has_more = cursor.fetch(conn, sql, params)
    return [_record(row) for row in rows], has_more


def finish(conn: sqlite3.Connection, record: VectorStoreFileRecord, owner: str, worker: str | None) -> bool:
    error = None if record.last_error is None else orjson.dumps(record.last_error).decode()
    params = (record.status, error, record.usage_bytes, record.vector_store_id, record.file_id, owner)
    return conn.execute(_FINISH, (*params, worker, worker)).rowcount > 0


def find_by_sha256(
    conn: sqlite3.Connection, store_id: str, sha256: str, owner: str
) -> VectorStoreFileRecord | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM vector_store_files WHERE vector_store_id = ? AND sha256 = ? AND owner = ?"
        " ORDER BY status = 'completed' DESC, created_at DESC LIMIT 1",
        (store_id, sha256, owner),
    ).fetchone()
    return None if row is None else _record(row)


def unfinished(conn: sqlite3.Connection) -> list[tuple[str, VectorStoreFileRecord]]:
    rows = conn.execute(
        f"SELECT owner, {_COLUMNS} FROM vector_store_files WHERE status = 'in_progress'"
        " ORDER BY created_at, rowid"
    ).fetchall()
    return [(row[0], _record(row[1:])) for row in rows]


def claim_unfinished(
    conn: sqlite3.Connection, worker: str, lease: float
) -> list[tuple[str, VectorStoreFileRecord]]:
    """One ``UPDATE ... RETURNING`` on the single writer thread: two workers never get one file."""
    now = time.time()
    rows = sorted(
        conn.execute(_CLAIM, (worker, now + lease, now)).fetchall(), key=lambda row: (row[4], row[0])
    )
    return [(row[1], _record(row[2:])) for row in rows]


def get_batch(conn: sqlite3.Connection, store_id: str, batch_id: str, owner: str) -> FileBatchRecord | None:
    row = conn.execute(
        "SELECT id, vector_store_id, created_at, cancelled FROM vector_store_file_batches"
        " WHERE id = ? AND vector_store_id = ? AND owner = ?",
        (batch_id, store_id, owner),
    ).fetchone()
    if row is None:
        return None
    counts = dict(
        conn.execute(
            "SELECT status, COUNT(*) FROM vector_store_files WHERE batch_id = ? GROUP BY status", (batch_id,)
        ).fetchall()
    )
    return FileBatchRecord(row[0], row[1], row[2], bool(row[3]), counts)


def cancel_batch(conn: sqlite3.Connection, store_id: str, batch_id: str, owner: str) -> None:
    """Only a batch with work left becomes ``cancelled``; a finished one keeps its outcome."""
    params = (batch_id, store_id, owner)
    pending = conn.execute(
        "UPDATE vector_store_files SET status = 'cancelled'"
        " WHERE batch_id = ? AND vector_store_id = ? AND owner = ? AND status = 'in_progress'",
        params,
    ).rowcount
    if pending:
        conn.execute(
            "UPDATE vector_store_file_batches SET cancelled = 1"
            " WHERE id = ? AND vector_store_id = ? AND owner = ?",
            params,
        )


def _row(f: VectorStoreFileRecord) -> tuple[Any, ...]:
    return (
        f.vector_store_id,
        f.file_id,
        f.created_at,
        f.status,
        None if f.last_error is None else orjson.dumps(f.last_error).decode(),
        orjson.dumps(f.attributes).decode(),
        orjson.dumps(f.chunking_strategy).decode(),
        f.usage_bytes,
        f.batch_id,
        f.sha256,
    )


def _record(row: tuple[Any, ...] | sqlite3.Row) -> VectorStoreFileRecord:
    return VectorStoreFileRecord(
        vector_store_id=row[0],
        file_id=row[1],
        created_at=row[2],
        status=cast(Status, row[3]),
        last_error=None if row[4] is None else orjson.loads(row[4]),
        attributes=orjson.loads(row[5]),
        chunking_strategy=orjson.loads(row[6]),
        usage_bytes=row[7],
        batch_id=row[8],
        sha256=row[9],
    )

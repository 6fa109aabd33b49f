"""One SQLite connection on one dedicated thread.

Every read and write is a function run on that thread, in submission order.
That gives datasette's single-writer discipline and, because the queue is FIFO,
read-after-write consistency for writes that were only queued (``submit``),
which keeps database round trips off the streaming hot path.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from parley.storage.sqlite.migrations import migrate

T = TypeVar("T")


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._executor.submit(self._open).result()

    def _open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
        self._conn = conn

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "database is closed"
        return self._conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.wrap_future(self._executor.submit(fn, self.conn))

    def submit(self, fn: Callable[[sqlite3.Connection], object]) -> Future[object]:
        """Queue work without waiting; later ``run`` calls observe its effects."""
        return self._executor.submit(fn, self.conn)

    async def aclose(self) -> None:
        conn = self._conn
        if conn is None:
            return
        await self.run(lambda c: c.close())
        self._conn = None
        self._executor.shutdown(wait=True)


def transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn`` inside BEGIN IMMEDIATE ... COMMIT, rolling back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result

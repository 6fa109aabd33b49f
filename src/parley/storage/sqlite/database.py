"""One SQLite connection on one dedicated thread.

Every read and write is a function run on that thread, in submission order.
That gives datasette's single-writer discipline and, because the queue is FIFO,
read-after-write consistency for writes that were only queued (``submit``),
which keeps database round trips off the streaming hot path.

Writes that many requests make alike (each response's row and items) are group-committed
(``write_grouped``): those queued back to back go in one transaction, one multi-row statement per
kind (``execute_rows``). A transaction and each statement cost a hand-over of the GIL between this thread and
the event loop's, and with several worker processes a take of the database's write lock; per
response, that measured as about half of the server's time at 32 concurrent requests.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from parley.storage.sqlite.migrations import migrate

T = TypeVar("T")
Apply = Callable[[sqlite3.Connection, list[Any]], None]
"""Writes a list of entries of one kind, inside the caller's transaction."""
Group = dict[Apply, tuple[list[Any], list["asyncio.Future[None]"]]]


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-sqlite")
        self._conn: sqlite3.Connection | None = None
        self.applied: list[str] = []
        """The migrations this opening applied."""
        self._executor.submit(self._open).result()
        self._open_group: Group | None = None
        """The group a queued commit will take; None once it has, or once other work was queued
        after it (a grouped write joins only a commit with nothing queued after it)."""
        self._group_lock = threading.Lock()

    def _open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self.applied = migrate(conn)
        self._conn = conn

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "database is closed"
        return self._conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._open_group = None
        return await asyncio.wrap_future(self._executor.submit(fn, self.conn))

    def submit(self, fn: Callable[[sqlite3.Connection], object]) -> Future[object]:
        """Queue work without waiting; later ``run`` calls observe its effects."""
        self._open_group = None
        return self._executor.submit(fn, self.conn)

    async def write_grouped(self, apply: Apply, entry: Any) -> None:
        """Write ``entry`` with ``apply``, in one transaction with the grouped writes queued just
        before or after it; return once it is committed. Order holds: work queued after this call
        sees it, work queued before it does not see it earlier."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._group_lock:
            group = self._open_group
            if group is None:
                group = self._open_group = {}
                self._executor.submit(self._commit_group, group, asyncio.get_running_loop())
            entries, futures = group.setdefault(apply, ([], []))
            entries.append(entry)
            futures.append(done)
        await done

    def _commit_group(self, group: Group, loop: asyncio.AbstractEventLoop) -> None:
        with self._group_lock:
            if self._open_group is group:
                self._open_group = None
        try:
            transaction(
                self.conn, lambda conn: [apply(conn, entries) for apply, (entries, _) in group.items()]
            )
        except Exception:  # noqa: BLE001 - one entry's fault: each again alone, so only it fails
            for apply, (entries, futures) in group.items():
                for entry, future in zip(entries, futures, strict=True):
                    loop.call_soon_threadsafe(_settle, future, self._alone(apply, entry))
            return
        for _, futures in group.values():
            for future in futures:
                loop.call_soon_threadsafe(_settle, future, None)

    def _alone(self, apply: Apply, entry: Any) -> Exception | None:
        """One entry in its own transaction: what it failed with, for its caller."""
        try:
            transaction(self.conn, lambda conn: apply(conn, [entry]))
        except Exception as exc:  # noqa: BLE001 - raised again in the caller awaiting it
            return exc
        return None

    async def aclose(self) -> None:
        conn = self._conn
        if conn is None:
            return
        await self.run(lambda c: c.close())
        self._conn = None
        self._executor.shutdown(wait=True)


MAX_VARIABLES = 32_766
"""Bound parameters per statement: SQLite's default limit since 3.32."""


def execute_rows(
    conn: sqlite3.Connection, statement: str, rows: list[tuple[Any, ...]], tail: str = ""
) -> None:
    """``statement`` (ending in ``VALUES``) for every row, as few statements as the parameter limit
    allows: each is one step of SQLite, and each step a hand-over of the GIL, where ``executemany``
    steps (and hands over) once per row."""
    if not rows:
        return
    width = len(rows[0])
    per_statement = MAX_VARIABLES // width
    one = "(" + ", ".join("?" * width) + ")"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = ", ".join([one] * len(chunk))
        conn.execute(f"{statement} {values} {tail}", [value for row in chunk for value in row])


def _settle(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


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

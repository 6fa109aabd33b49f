"""A pool of connections to one PostgreSQL database, migrated when it opens.

Where SQLite runs every statement on one thread in submission order, PostgreSQL serves many
connections at once, so what that order gave for free is kept on purpose here: writes queued
without waiting (``submit``, for a ``finally`` that must not await) run one after another, and
every read through a store first waits for those still queued, so a response recorded as failed
is what the next request reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from parley.storage.postgres.migrations import Connection, migrate

log = logging.getLogger(__name__)

Write = Callable[[Connection], Awaitable[object]]

POOL_SIZE = 10
"""Connections per process: a request holds one only for its statements, never while it streams."""


class PgDatabase:
    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool
        self._queued: asyncio.Task[None] | None = None
        """The last write ``submit`` queued; each waits for the one before it."""

    @classmethod
    async def open(cls, url: str, *, pool_size: int = POOL_SIZE) -> PgDatabase:
        """Connect (``url``'s query parameters other than libpq's are server settings, such as
        ``search_path``) and apply the migrations this database lacks."""
        pool = await asyncpg.create_pool(url, min_size=1, max_size=pool_size)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A pooled connection, once the writes queued before have run."""
        await self.settled()
        async with self._pool.acquire() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self.connection() as conn:
            return await conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self.connection() as conn:
            return await conn.fetchrow(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        async with self.connection() as conn:
            return await conn.execute(sql, *args)

    def submit(self, write: Write) -> None:
        """Queue ``write`` (in its own transaction) without waiting for it."""
        self._queued = asyncio.get_running_loop().create_task(self._after(self._queued, write))

    async def _after(self, before: asyncio.Task[None] | None, write: Write) -> None:
        if before is not None:
            await asyncio.wait([before])
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await write(conn)
        except Exception:  # nobody awaits a queued write: it is told here
            log.exception("a queued write failed")

    async def settled(self) -> None:
        queued = self._queued
        if queued is not None and not queued.done():
            await asyncio.wait([queued])

    async def aclose(self) -> None:
        await self.settled()
        await self._pool.close()

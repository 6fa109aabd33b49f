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
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg

from parley.errors import DatabaseUnavailable, InvalidRequest
from parley.storage.postgres.migrations import Connection, migrate
from parley.storage.postgres.vectors import register_vector

log = logging.getLogger(__name__)

_LOST = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.InternalClientError,
)
"""What asyncpg raises when the server is down, restarting, or gone mid-statement (a pooled
connection whose server went away can fail with an ``InternalClientError`` on its next use)."""

_NUL_REFUSED = (
    "A name, filename or other text field contains a NUL character (\\u0000), which this server's"
    " database (PostgreSQL) cannot store."
)

Write = Callable[[Connection], Awaitable[object]]

SESSION_SETTINGS = {"hnsw.ef_search": "100", "hnsw.iterative_scan": "relaxed_order"}
"""pgvector's search beam (100: recall@10 1.0 at 100k chunks in ``benchmarks/bench_pgvector.py``,
where 64 gave 0.99 and was no faster) and, for a filtered search, walking on until enough chunks
pass rather than returning fewer."""

POOL_SIZE = 10
"""Connections per process: a request holds one only for its statements, never while it streams."""


def _reason(exc: BaseException) -> str:
    """In an operator's words: asyncpg's own for a connection lost mid-use is about its internals."""
    if isinstance(exc, asyncpg.InternalClientError | asyncpg.ConnectionDoesNotExistError):
        return "the connection was lost"
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return "no server is listening there"
    return str(exc) or type(exc).__name__


class PgDatabase:
    """Built where no event loop runs yet (the app's composition); the pool opens, and the schema
    is migrated, on ``start`` or on first use, whichever comes first."""

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self._pool_size = pool_size
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._opening: asyncio.Lock | None = None
        self._queued: asyncio.Task[None] | None = None
        """The last write ``submit`` queued; each waits for the one before it."""
        self.applied: list[str] = []
        """The migrations this database's opening applied."""

    @property
    def where(self) -> str:
        """The URL without its password, for logs and messages."""
        parts = urlsplit(self.url)
        if not parts.password:
            return self.url
        host = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))

    @classmethod
    async def open(cls, url: str, *, pool_size: int = POOL_SIZE) -> PgDatabase:
        database = cls(url, pool_size=pool_size)
        await database.start()
        return database

    async def start(self) -> list[str]:
        """Connect (``url``'s query parameters other than libpq's are server settings, such as
        ``search_path``) and apply the migrations this database lacks; their names."""
        async with self.connection():
            return self.applied

    def _settings(self) -> dict[str, str]:
        """Parley's session settings, each unless the URL sets it (its query's other parameters
        are server settings too, as ``start`` says)."""
        given = parse_qs(urlsplit(self.url).query)
        return {name: value for name, value in SESSION_SETTINGS.items() if name not in given}

    async def _ready(self) -> asyncpg.Pool[asyncpg.Record]:
        if self._pool is not None:
            return self._pool
        self._opening = self._opening or asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                pool = await asyncpg.create_pool(
                    self.url,
                    min_size=1,
                    max_size=self._pool_size,
                    init=register_vector,
                    server_settings=self._settings(),
                )
                try:
                    async with pool.acquire() as conn:
                        self.applied = await migrate(conn)
                        if self.applied:  # the connection predates the types they made
                            await register_vector(conn)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A pooled connection, once the writes queued before have run. A database that cannot be
        reached, or is lost mid-statement, is ``DatabaseUnavailable`` (a 503): the transaction
        around the statement is not committed, so nothing is half written."""
        await self.settled()
        try:
            async with (await self._ready()).acquire() as conn:
                yield conn
        except (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError) as exc:
            raise InvalidRequest(_NUL_REFUSED, code="invalid_value") from exc
        except _LOST as exc:
            if self._pool is not None:
                await self._pool.expire_connections()  # the others went with it: reconnect, not fail each
            raise DatabaseUnavailable(
                f"The database at {self.where} cannot be reached: {_reason(exc)}"
            ) from exc

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
            async with (await self._ready()).acquire() as conn, conn.transaction():
                await write(conn)
        except Exception:  # nobody awaits a queued write: it is told here
            log.exception("a queued write failed")

    async def settled(self) -> None:
        queued = self._queued
        if queued is not None and not queued.done():
            await asyncio.wait([queued])

    async def aclose(self) -> None:
        await self.settled()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

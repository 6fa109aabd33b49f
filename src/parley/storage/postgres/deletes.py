"""The count of deleted responses in PostgreSQL, for the chain caches of every replica sharing it
(``chain_cache.Deletes``): one indexed row read per chain served from memory."""

from __future__ import annotations

from parley.storage.postgres.database import PgDatabase

_NAME = "response_deletes"


class PgDeletes:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def read(self) -> int:
        row = await self._db.fetchrow("SELECT value FROM counters WHERE name = $1", _NAME)
        return 0 if row is None else int(row["value"])

    async def bump(self) -> int:
        row = await self._db.fetchrow(
            "INSERT INTO counters (name, value) VALUES ($1, 1)"
            " ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            _NAME,
        )
        assert row is not None
        return int(row["value"])

    async def aclose(self) -> None:
        """The database is the stores' to close."""

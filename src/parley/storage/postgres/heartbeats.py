"""Heartbeats of the processes sharing one PostgreSQL (``storage/heartbeats.py``), on its clock."""

from __future__ import annotations

from collections.abc import Collection

from parley.storage.heartbeats import SILENT_AFTER
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.migrations import CLOCK


class PgHeartbeats:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def beat(self, process: str) -> None:
        await self._db.execute(
            f"INSERT INTO heartbeats (process, seen_at) VALUES ($1, {CLOCK})"
            f" ON CONFLICT (process) DO UPDATE SET seen_at = {CLOCK}",
            process,
        )

    async def silent(self, processes: Collection[str], after: float = SILENT_AFTER) -> set[str]:
        heard = await self._db.fetch(
            f"SELECT process FROM heartbeats WHERE process = ANY($1::text[]) AND seen_at > {CLOCK} - $2",
            list(processes),
            after,
        )
        return set(processes) - {row["process"] for row in heard}

"""Locks across processes in PostgreSQL: a row per held lock, as in ``sqlite/locks.py``.

SQLite inserts and reads the holder back in one transaction of its one writer. Here both are one
statement: the insert takes a free lock, and on conflict a no-op update returns the row that is
there, its holder. Of replicas taking a free lock at once exactly one inserts, and none can read
"no holder" between a failed insert and a second read because a release came in between.
The no-op update writes a row version per refused attempt, which only waiters polling a held lock
(a few times a second at most) pay.
"""

from __future__ import annotations

from parley.storage.postgres.database import PgDatabase

_TAKE = """
INSERT INTO locks (name, holder) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET holder = locks.holder
RETURNING holder
"""


class PgLocks:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def take(self, name: str, holder: str) -> str:
        async with self._db.connection() as conn:
            current: str = await conn.fetchval(_TAKE, name, holder)
        return current

    async def release(self, name: str, holder: str) -> None:
        await self._db.execute("DELETE FROM locks WHERE name = $1 AND holder = $2", name, holder)

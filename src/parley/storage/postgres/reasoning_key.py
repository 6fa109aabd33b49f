"""The reasoning key in PostgreSQL: the one row of ``reasoning_key``, made by the first replica
that asks for it.

Replicas starting together each offer a new key. The insert is a no-op where a row is there, and
waits where another replica's insert is not yet committed, so the read after it (a statement of
its own, which sees what was committed before it began) finds the one key that won.
"""

from __future__ import annotations

import secrets
import time

from parley.storage.postgres.database import PgDatabase

_OFFER = "INSERT INTO reasoning_key (key, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING"


class PgReasoningKeyStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def reasoning_key(self) -> bytes:
        async with self._db.connection() as conn:
            await conn.execute(_OFFER, secrets.token_bytes(32), int(time.time()))
            key: bytes = await conn.fetchval("SELECT key FROM reasoning_key")
        return key

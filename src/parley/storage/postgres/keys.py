"""API keys in PostgreSQL: one row per key, its digest unique, as in ``sqlite/keys.py``.

Each statement changes at most one row on its own, so nothing here needed SQLite's one writer.
What SQLite's ``rowid`` gave, the order keys were added in, is ``seq`` here
(``p002_api_keys_order``). A revoke is one conditional ``UPDATE``: of two replicas revoking one
key at once, exactly one is told it did.
"""

from __future__ import annotations

from typing import Any

from parley.storage.keys import ApiKey
from parley.storage.postgres.database import PgDatabase

_COLUMNS = "id, owner, admin, name, shown, created_at, revoked_at"
_INSERT = (
    "INSERT INTO api_keys (id, owner, admin, name, shown, created_at, digest)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
)


def _key(row: Any) -> ApiKey:
    return ApiKey(
        row["id"], row["owner"], row["admin"], row["name"], row["shown"], row["created_at"], row["revoked_at"]
    )


class PgKeyStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def add(self, key: ApiKey, key_digest: str) -> None:
        await self._db.execute(
            _INSERT, key.id, key.owner, key.admin, key.name, key.shown, key.created_at, key_digest
        )

    async def active(self) -> dict[str, ApiKey]:
        rows = await self._db.fetch(f"SELECT digest, {_COLUMNS} FROM api_keys WHERE revoked_at IS NULL")
        return {row["digest"]: _key(row) for row in rows}

    async def all(self) -> list[ApiKey]:
        rows = await self._db.fetch(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, seq")
        return [_key(row) for row in rows]

    async def revoke(self, key_id: str, when: int) -> bool:
        done = await self._db.execute(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", when, key_id
        )
        return done == "UPDATE 1"

"""Stored prompts and their versions in PostgreSQL: the rows of ``sqlite/prompts.py``.

SQLite numbers a new version from ``MAX(version)`` inside its one writer's ``BEGIN IMMEDIATE``;
here replicas write at once, so the prompt's row is locked (``FOR UPDATE``) before the latest
version is read. Two clients replacing the same version then take turns: the second reads the
number the first wrote and is told, rather than both computing one number and one failing on the
primary key. Setting the default is one conditional ``UPDATE``, so a version is never made the
default of a prompt it does not belong to.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.migrations import Connection
from parley.storage.prompts import PromptTemplate, PromptVersion

_SELECT = """
SELECT v.prompt_id, v.version, v.data, v.created_at, v.version = p.default_version AS is_default
FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id
"""
_VERSION = _SELECT + " WHERE p.id = $1 AND p.owner = $2 AND v.owner = $2 AND v.version = $3"
_DEFAULT = _SELECT + " WHERE p.id = $1 AND p.owner = $2 AND v.owner = $2 AND v.version = p.default_version"
_LOCK_PROMPT = "SELECT 1 FROM prompts WHERE id = $1 AND owner = $2 FOR UPDATE"
_LATEST = "SELECT MAX(version) FROM prompt_versions WHERE prompt_id = $1 AND owner = $2"
_INSERT_VERSION = (
    "INSERT INTO prompt_versions (prompt_id, version, owner, created_at, data) VALUES ($1, $2, $3, $4, $5)"
)
_SET_DEFAULT = """
UPDATE prompts SET default_version = $3 WHERE id = $1 AND owner = $2
AND EXISTS (SELECT 1 FROM prompt_versions WHERE prompt_id = $1 AND owner = $2 AND version = $3)
"""


class PgPromptStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def create(
        self, prompt_id: str, template: PromptTemplate, created_at: int, owner: str
    ) -> PromptVersion:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO prompts (id, owner, created_at, default_version) VALUES ($1, $2, $3, 1)",
                prompt_id,
                owner,
                created_at,
            )
            await conn.execute(_INSERT_VERSION, prompt_id, 1, owner, created_at, _data(template))
        return PromptVersion(prompt_id, 1, template, created_at, is_default=True)

    async def add_version(
        self, prompt_id: str, template: PromptTemplate, owner: str, *, replaces: int, make_default: bool
    ) -> PromptVersion | int | None:
        """The prompt's row stays locked from the latest-version read to the commit."""
        now = int(time.time())
        async with self._db.transaction() as conn:
            if await conn.fetchval(_LOCK_PROMPT, prompt_id, owner) is None:
                return None
            latest: int | None = await conn.fetchval(_LATEST, prompt_id, owner)
            if latest is None or latest != replaces:
                return latest
            version = latest + 1
            await conn.execute(_INSERT_VERSION, prompt_id, version, owner, now, _data(template))
            if make_default:
                await conn.execute(
                    "UPDATE prompts SET default_version = $3 WHERE id = $1 AND owner = $2",
                    prompt_id,
                    owner,
                    version,
                )
            return await _version(conn, prompt_id, owner, version)

    async def get(self, prompt_id: str, owner: str, version: int | None = None) -> PromptVersion | None:
        async with self._db.connection() as conn:
            return await _version(conn, prompt_id, owner, version)

    async def versions(self, prompt_id: str, owner: str) -> list[PromptVersion] | None:
        sql = _SELECT + " WHERE p.id = $1 AND p.owner = $2 AND v.owner = $2 ORDER BY v.version"
        rows = await self._db.fetch(sql, prompt_id, owner)
        return [_row(row) for row in rows] or None

    async def list(self, owner: str) -> list[PromptVersion]:
        sql = (
            _SELECT + " WHERE p.owner = $1 AND v.owner = $1 AND v.version = p.default_version"
            " ORDER BY p.created_at DESC, p.id DESC"
        )
        return [_row(row) for row in await self._db.fetch(sql, owner)]

    async def set_default(self, prompt_id: str, version: int, owner: str) -> PromptVersion | None:
        async with self._db.transaction() as conn:
            if await conn.execute(_SET_DEFAULT, prompt_id, owner, version) == "UPDATE 0":
                return None
            return await _version(conn, prompt_id, owner, version)

    async def delete(self, prompt_id: str, owner: str) -> bool:
        """Its versions go too (ON DELETE CASCADE)."""
        done = await self._db.execute("DELETE FROM prompts WHERE id = $1 AND owner = $2", prompt_id, owner)
        return done != "DELETE 0"


async def _version(conn: Connection, prompt_id: str, owner: str, version: int | None) -> PromptVersion | None:
    """One version of the owner's prompt; its default one when ``version`` is None."""
    if version is None:
        row = await conn.fetchrow(_DEFAULT, prompt_id, owner)
    else:
        row = await conn.fetchrow(_VERSION, prompt_id, owner, version)
    return None if row is None else _row(row)


def _data(template: PromptTemplate) -> str:
    fields = {
        "prompt": template.prompt,
        "variables": template.variables,
        "model": template.model,
        "tools": template.tools,
    }
    return orjson.dumps(fields).decode()


def _row(row: Any) -> PromptVersion:
    fields: dict[str, Any] = orjson.loads(row["data"])
    template = PromptTemplate(fields["prompt"], fields["variables"], fields.get("model"), fields.get("tools"))
    return PromptVersion(
        row["prompt_id"], row["version"], template, row["created_at"], is_default=bool(row["is_default"])
    )

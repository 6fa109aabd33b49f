"""Stored prompts and their versions in SQLite.

``prompts`` holds one row per prompt with the number of its default version; each version is a
row of ``prompt_versions`` keyed by (prompt, version) whose ``data`` is the template as JSON.
A new version is numbered from ``MAX(version)`` inside the writer's ``BEGIN IMMEDIATE``, so two
clients replacing the same version cannot both win: the second finds it is no longer the latest.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import orjson

from parley.storage.prompts import PromptTemplate, PromptVersion
from parley.storage.sqlite.database import Database, transaction

_SELECT = """
SELECT v.prompt_id, v.version, v.data, v.created_at, v.version = p.default_version
FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id
"""
_LATEST = "SELECT MAX(version) FROM prompt_versions WHERE prompt_id = ? AND owner = ?"


class SqlitePromptStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, prompt_id: str, template: PromptTemplate, created_at: int, owner: str
    ) -> PromptVersion:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO prompts (id, owner, created_at, default_version) VALUES (?, ?, ?, 1)",
                (prompt_id, owner, created_at),
            )
            _insert_version(conn, prompt_id, 1, template, owner, created_at)

        await self._db.run(lambda conn: transaction(conn, write))
        return PromptVersion(prompt_id, 1, template, created_at, is_default=True)

    async def add_version(
        self, prompt_id: str, template: PromptTemplate, owner: str, *, replaces: int, make_default: bool
    ) -> PromptVersion | int | None:
        """The latest-version check and the insert see the same state: one transaction."""
        now = int(time.time())

        def write(conn: sqlite3.Connection) -> PromptVersion | int | None:
            latest: int | None = conn.execute(_LATEST, (prompt_id, owner)).fetchone()[0]
            if latest is None or latest != replaces:
                return latest
            version = latest + 1
            _insert_version(conn, prompt_id, version, template, owner, now)
            if make_default:
                conn.execute(
                    "UPDATE prompts SET default_version = ? WHERE id = ? AND owner = ?",
                    (version, prompt_id, owner),
                )
            return _version(conn, prompt_id, owner, version)

        return await self._db.run(lambda conn: transaction(conn, write))

    async def get(self, prompt_id: str, owner: str, version: int | None = None) -> PromptVersion | None:
        return await self._db.run(lambda conn: _version(conn, prompt_id, owner, version))

    async def versions(self, prompt_id: str, owner: str) -> list[PromptVersion] | None:
        sql = _SELECT + " WHERE p.id = ? AND p.owner = ? AND v.owner = ? ORDER BY v.version"
        rows = await self._db.run(lambda conn: conn.execute(sql, (prompt_id, owner, owner)).fetchall())
        return [_row(row) for row in rows] or None

    async def list(self, owner: str) -> list[PromptVersion]:
        sql = (
            _SELECT + " WHERE p.owner = ? AND v.owner = ? AND v.version = p.default_version"
            " ORDER BY p.created_at DESC, p.id DESC"
        )
        rows = await self._db.run(lambda conn: conn.execute(sql, (owner, owner)).fetchall())
        return [_row(row) for row in rows]

    async def set_default(self, prompt_id: str, version: int, owner: str) -> PromptVersion | None:
        def write(conn: sqlite3.Connection) -> PromptVersion | None:
            if _version(conn, prompt_id, owner, version) is None:
                return None
            conn.execute(
                "UPDATE prompts SET default_version = ? WHERE id = ? AND owner = ?",
                (version, prompt_id, owner),
            )
            return _version(conn, prompt_id, owner, version)

        return await self._db.run(lambda conn: transaction(conn, write))

    async def delete(self, prompt_id: str, owner: str) -> bool:
        """Its versions go too (ON DELETE CASCADE)."""

        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM prompts WHERE id = ? AND owner = ?", (prompt_id, owner))
            return cur.rowcount > 0

        return await self._db.run(lambda conn: transaction(conn, write))


def _insert_version(
    conn: sqlite3.Connection, prompt_id: str, version: int, template: PromptTemplate, owner: str, now: int
) -> None:
    data = {
        "prompt": template.prompt,
        "variables": template.variables,
        "model": template.model,
        "tools": template.tools,
    }
    conn.execute(
        "INSERT INTO prompt_versions (prompt_id, version, owner, created_at, data) VALUES (?, ?, ?, ?, ?)",
        (prompt_id, version, owner, now, orjson.dumps(data)),
    )


def _version(
    conn: sqlite3.Connection, prompt_id: str, owner: str, version: int | None
) -> PromptVersion | None:
    """One version of the owner's prompt; its default one when ``version`` is None."""
    number = "p.default_version" if version is None else "?"
    sql = _SELECT + f" WHERE p.id = ? AND p.owner = ? AND v.owner = ? AND v.version = {number}"
    params: tuple[Any, ...] = (
        (prompt_id, owner, owner) if version is None else (prompt_id, owner, owner, version)
    )
    row = conn.execute(sql, params).fetchone()
    return None if row is None else _row(row)


def _row(row: tuple[Any, ...]) -> PromptVersion:
    prompt_id, version, data, created_at, is_default = row
    fields: dict[str, Any] = orjson.loads(data)
    template = PromptTemplate(fields["prompt"], fields["variables"], fields.get("model"), fields.get("tools"))
    return PromptVersion(prompt_id, version, template, created_at, is_default=bool(is_default))

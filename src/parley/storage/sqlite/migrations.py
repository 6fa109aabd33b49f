"""Append-only schema migrations, each applied once and recorded (the simonw/llm habit).

Never edit a released migration: add ``mNNN_...`` at the end of ``MIGRATIONS``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """``executescript`` would COMMIT the migration's transaction early; run statements one by one."""
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def m001_responses(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE responses (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            previous_response_id TEXT,
            created_at INTEGER NOT NULL,
            status TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX responses_owner_created ON responses (owner, created_at);
        CREATE TABLE response_items (
            response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('input', 'output')),
            item_id TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (response_id, position)
        ) WITHOUT ROWID;
        """,
    )


def m002_item_owner(conn: sqlite3.Connection) -> None:
    """Items carry their owner too, so every stored row can be checked on its own."""
    conn.execute("ALTER TABLE response_items ADD COLUMN owner TEXT NOT NULL DEFAULT 'anonymous'")
    conn.execute(
        "UPDATE response_items"
        " SET owner = (SELECT owner FROM responses WHERE id = response_items.response_id)"
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [m001_responses, m002_item_owner]


def migrate(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)"
    )
    applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    for migration in MIGRATIONS:
        if migration.__name__ in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration(conn)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (migration.__name__, int(time.time())),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

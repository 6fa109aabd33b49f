"""Migrations apply once each, in order, and upgrade a database made by an older Parley."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from parley.storage.sqlite.migrations import MIGRATIONS, m001_responses, migrate


def test_upgrade_from_the_first_schema_backfills_item_owners(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
    m001_responses(conn)
    conn.execute("INSERT INTO _migrations VALUES ('m001_responses', 0)")
    conn.execute("INSERT INTO responses VALUES ('r1', 'alice', NULL, 1, 'completed', '{}')")
    conn.execute("INSERT INTO response_items VALUES ('r1', 0, 'input', 'm1', '{}')")
    migrate(conn)
    migrate(conn)  # a second start applies nothing twice
    assert conn.execute("SELECT owner FROM response_items").fetchall() == [("alice",)]
    applied = [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY name")]
    assert applied == [m.__name__ for m in MIGRATIONS]
    conn.close()

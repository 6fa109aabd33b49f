"""What every store test stands on: a real database per test, migrated, closed afterwards. ``db``
is SQLite's; ``backend`` runs a test once on each backend, SQLite and PostgreSQL (a schema of its
own in the session's server, ``tests/support/postgres.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from parley.storage.base import ConversationStore, ResponseStore
from parley.storage.postgres import PgConversationStore, PgDatabase, PgResponseStore
from parley.storage.sqlite import Database, SqliteConversationStore, SqliteResponseStore
from tests.support.postgres import fresh_schema


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "parley.db")
    yield database
    await database.aclose()


@dataclass
class Backend:
    """One backend's stores over one database, and a way to count its rows."""

    name: str
    responses: ResponseStore
    conversations: ConversationStore
    sqlite: Database | None = None
    postgres: PgDatabase | None = None

    def another_conversation_store(self) -> ConversationStore:
        """Another process's view of the same database (its own kept items)."""
        if self.postgres is not None:
            return PgConversationStore(self.postgres)
        assert self.sqlite is not None
        return SqliteConversationStore(self.sqlite)

    async def count(self, table: str) -> int:
        sql = f"SELECT COUNT(*) FROM {table}"
        if self.postgres is not None:
            row = await self.postgres.fetchrow(sql)
        else:
            assert self.sqlite is not None
            row = await self.sqlite.run(lambda conn: conn.execute(sql).fetchone())
        assert row is not None
        return int(row[0])


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database | PgDatabase]:
    """A fresh database of each backend in turn: a store test that takes it runs on both."""
    if request.param == "sqlite":
        sqlite = Database(tmp_path / "parley.db")
        yield sqlite
        await sqlite.aclose()
        return
    async with fresh_schema(request.getfixturevalue("postgres_url")) as url:
        pg = await PgDatabase.open(url)
        yield pg
        await pg.aclose()


@pytest.fixture
def backend(database: Database | PgDatabase) -> Backend:
    if isinstance(database, PgDatabase):
        return Backend(
            "postgres", PgResponseStore(database), PgConversationStore(database), postgres=database
        )
    return Backend(
        "sqlite", SqliteResponseStore(database), SqliteConversationStore(database), sqlite=database
    )

"""The reasoning key replicas over one PostgreSQL share: whichever asks first makes it, and every
replica, asking after or at the same moment, gets that one (``postgres/reasoning_key.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from parley.storage.postgres import PgDatabase
from parley.storage.postgres.reasoning_key import PgReasoningKeyStore
from tests.support.postgres import fresh_schema


@pytest.fixture
async def schema_url(postgres_url: str) -> AsyncIterator[str]:
    async with fresh_schema(postgres_url) as url:
        yield url


async def _rows(db: PgDatabase) -> int:
    count: int = (await db.fetchrow("SELECT count(*) FROM reasoning_key") or [0])[0]
    return count


async def test_two_replicas_get_the_key_the_first_made(schema_url: str) -> None:
    first, second = PgDatabase(schema_url), PgDatabase(schema_url)
    try:
        made = await PgReasoningKeyStore(first).reasoning_key()
        assert len(made) == 32
        assert await PgReasoningKeyStore(second).reasoning_key() == made
        assert await PgReasoningKeyStore(first).reasoning_key() == made  # asked again: still the one
        assert await _rows(first) == 1
    finally:
        await first.aclose()
        await second.aclose()


async def test_replicas_making_it_at_once_agree(schema_url: str) -> None:
    """Four replicas, eight asking on each, all at once on a database with no key yet: one key."""
    replicas = [await PgDatabase.open(schema_url, pool_size=8) for _ in range(4)]
    try:
        for _ in range(5):  # each round races on an empty table again
            await replicas[0].execute("DELETE FROM reasoning_key")
            stores = [PgReasoningKeyStore(db) for db in replicas for _ in range(8)]
            keys = await asyncio.gather(*(store.reasoning_key() for store in stores))
            assert len(set(keys)) == 1
            assert await _rows(replicas[0]) == 1
    finally:
        for db in replicas:
            await db.aclose()

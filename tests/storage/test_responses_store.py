"""The SQLite response store and the chain cache in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from parley.storage.chain_cache import ChainCache
from parley.storage.sqlite import Database, SqliteResponseStore


def response(rid: str, previous: str | None, output: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": rid,
        "previous_response_id": previous,
        "created_at": 1,
        "status": "completed",
        "output": output,
    }


def item(iid: str) -> dict[str, Any]:
    return {"id": iid, "type": "message", "role": "user", "content": [{"type": "input_text", "text": iid}]}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteResponseStore]:
    s = SqliteResponseStore(Database(tmp_path / "parley.db"))
    yield s
    await s.aclose()


async def save_chain(store: Any, length: int) -> None:
    previous = None
    for n in range(length):
        await store.save(response(f"r{n}", previous, [item(f"o{n}")]), [item(f"i{n}")], "alice")
        previous = f"r{n}"


async def test_history_reads_the_whole_chain_in_order(store: SqliteResponseStore) -> None:
    await save_chain(store, 4)
    history = await store.history("r3", "alice")
    assert history is not None
    assert [i["id"] for i in history] == ["i0", "o0", "i1", "o1", "i2", "o2", "i3", "o3"]
    assert await store.history("r3", "bob") is None
    assert await store.history("nope", "alice") is None


async def test_owner_isolation_and_delete(store: SqliteResponseStore) -> None:
    await save_chain(store, 1)
    assert await store.get("r0", "bob") is None
    assert not await store.delete("r0", "bob")
    assert await store.delete("r0", "alice")
    assert await store.get("r0", "alice") is None
    assert await store.input_items("r0", "alice", after=None, before=None, limit=5, order="asc") is None


async def test_chain_cache_answers_without_the_store_and_falls_back(store: SqliteResponseStore) -> None:
    cache = ChainCache(store, capacity=2)
    await save_chain(cache, 3)
    assert [i["id"] for i in await cache.history("r2", "alice") or []] == ["i0", "o0", "i1", "o1", "i2", "o2"]
    cold = ChainCache(store)
    assert await cold.history("r2", "alice") == await cache.history("r2", "alice")
    assert await cache.history("r0", "alice") is not None  # evicted (capacity 2): read from the store
    assert await cache.history("r2", "bob") is None
    await cache.delete("r1", "alice")
    assert [i["id"] for i in await cache.history("r2", "alice") or []] == ["i2", "o2"]


async def test_items_record_their_owner(tmp_path: Path) -> None:
    store = SqliteResponseStore(Database(tmp_path / "p.db"))
    await save_chain(store, 1)
    owners = await store._db.run(lambda c: c.execute("SELECT DISTINCT owner FROM response_items").fetchall())
    assert owners == [("alice",)]
    await store.aclose()

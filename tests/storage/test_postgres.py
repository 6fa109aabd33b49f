"""What PostgreSQL must do that SQLite's one writer did for free: appends from many connections at
once, migrations raced by replicas starting together, queued writes kept in order; and a response
with its conversation's items written together or not at all."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from parley.engine.live import WORKER_DIED, Liveness
from parley.storage.chain_cache import ChainCache
from parley.storage.postgres import PgConversationStore, PgDatabase, PgResponseStore
from parley.storage.postgres.conversations import append_items
from parley.storage.postgres.deletes import PgDeletes
from parley.storage.postgres.heartbeats import PgHeartbeats
from parley.storage.postgres.migrations import MIGRATIONS
from parley.storage.processes import this_process
from tests.support.postgres import fresh_schema


def item(iid: str) -> dict[str, Any]:
    return {"id": iid, "type": "message", "role": "user", "content": [{"type": "input_text", "text": iid}]}


@pytest.fixture
async def pg(postgres_url: str) -> Any:
    async with fresh_schema(postgres_url) as url:
        database = await PgDatabase.open(url)
        yield database
        await database.aclose()


async def test_appends_from_many_connections_at_once_keep_every_item_in_order(pg: PgDatabase) -> None:
    store = PgConversationStore(pg)
    await store.create({"id": "c1", "created_at": 1, "metadata": {}}, [], "alice")
    await asyncio.gather(*(store.add_items("c1", "alice", [item(f"{n}a"), item(f"{n}b")]) for n in range(20)))
    items = await store.all_items("c1", "alice")
    assert items is not None
    assert len(items) == 40
    for first, second in zip(items[::2], items[1::2], strict=True):  # each call's items stay together
        assert (first["id"][:-1], first["id"][-1], second["id"][-1]) == (second["id"][:-1], "a", "b")


async def test_append_items_is_part_of_the_callers_transaction(pg: PgDatabase) -> None:
    store = PgConversationStore(pg)
    await store.create({"id": "c1", "created_at": 1, "metadata": {}}, [item("a")], "alice")

    async def append_then_fail() -> None:
        async with pg.transaction() as conn:
            assert await append_items(conn, "c1", "alice", [item("x")])
            raise RuntimeError("the response write failed")

    with pytest.raises(RuntimeError):
        await append_then_fail()
    async with pg.transaction() as conn:
        assert not await append_items(conn, "c1", "bob", [item("z")])
    assert [i["id"] for i in await store.all_items("c1", "alice") or []] == ["a"]


async def test_a_response_whose_conversation_is_gone_is_still_saved(pg: PgDatabase) -> None:
    """As on SQLite: the conversation's append finds nothing to append to; the response stands."""
    responses = PgResponseStore(pg)
    response: dict[str, Any] = {
        "id": "r0",
        "previous_response_id": None,
        "created_at": 1,
        "status": "completed",
        "output": [],
    }
    await responses.save(response, [item("i0")], "alice", "conv_gone")
    assert await responses.get("r0", "alice") == response


async def test_replicas_starting_together_apply_each_migration_once(postgres_url: str) -> None:
    async with fresh_schema(postgres_url) as url:
        databases = await asyncio.gather(*(PgDatabase.open(url) for _ in range(4)))
        rows = await databases[0].fetch("SELECT name FROM _migrations")
        assert sorted(row["name"] for row in rows) == sorted(m.__name__ for m in MIGRATIONS)
        for database in databases:
            await database.aclose()
        again = await PgDatabase.open(url)  # reopened: nothing left to apply, nothing lost
        assert len(await again.fetch("SELECT name FROM _migrations")) == len(MIGRATIONS)
        await again.aclose()


async def test_queued_writes_run_in_order_and_a_failed_one_is_logged(
    pg: PgDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    responses = PgResponseStore(pg)
    base: dict[str, Any] = {"id": "r0", "previous_response_id": None, "created_at": 1, "output": []}
    for status in ("in_progress", "failed", "completed"):
        responses.record({**base, "status": status}, "alice")

    async def broken(conn: Any) -> None:
        await conn.execute("INSERT INTO no_such_table VALUES (1)")

    with caplog.at_level(logging.ERROR, logger="parley.storage.postgres.database"):
        pg.submit(broken)
        responses.record({**base, "id": "r1", "status": "failed"}, "alice")
        stored = await responses.get("r0", "alice")
        assert stored is not None
        assert stored["status"] == "completed"
        assert await responses.get("r1", "alice") is not None
    assert "a queued write failed" in caplog.text


async def test_a_chain_deleted_through_one_replica_is_not_served_from_anothers_cache(pg: PgDatabase) -> None:
    one = ChainCache(PgResponseStore(pg), deletes=PgDeletes(pg))
    other = ChainCache(PgResponseStore(pg), deletes=PgDeletes(pg))
    base: dict[str, Any] = {"created_at": 1, "status": "completed"}
    await one.save(
        {**base, "id": "r0", "previous_response_id": None, "output": [item("o0")]}, [item("i0")], "alice"
    )
    await one.save(
        {**base, "id": "r1", "previous_response_id": "r0", "output": [item("o1")]}, [item("i1")], "alice"
    )
    assert [i["id"] for i in await other.history("r1", "alice") or []] == ["i0", "o0", "i1", "o1"]  # cached
    assert await one.delete("r0", "alice")
    assert [i["id"] for i in await other.history("r1", "alice") or []] == ["i1", "o1"]
    assert await other.history("r0", "alice") is None


async def test_a_replica_on_another_machine_is_settled_once_it_has_gone_silent(pg: PgDatabase) -> None:
    """A process elsewhere cannot be looked up by pid: it is alive while it beats."""
    responses, heartbeats = PgResponseStore(pg), PgHeartbeats(pg)
    running: dict[str, Any] = {"previous_response_id": None, "created_at": 1, "status": "in_progress"}
    beating, silent = "elsewhere-a:100:1", "elsewhere-b:200:1"
    await responses.begin({**running, "id": "r_beating", "output": []}, "alice", beating)
    await responses.begin({**running, "id": "r_silent", "output": []}, "alice", silent)
    await heartbeats.beat(beating)
    await heartbeats.beat(silent)
    assert await heartbeats.silent([beating, silent, "never:1:1"], after=30) == {"never:1:1"}
    await asyncio.sleep(0.3)
    await heartbeats.beat(beating)
    assert await heartbeats.silent([beating, silent], after=0.2) == {silent}

    here = Liveness(responses, _Impatient(heartbeats), this_process())
    assert await here.once() == 1
    settled = await responses.get("r_silent", "alice")
    assert settled is not None
    assert (settled["status"], settled["error"]["message"]) == ("failed", WORKER_DIED)
    kept = await responses.get("r_beating", "alice")
    assert kept is not None
    assert kept["status"] == "in_progress"
    assert await heartbeats.silent([this_process()], after=30) == set()  # it beat, too


class _Impatient:
    """The replica's heartbeats, with silence counted after 0.2 s instead of 30."""

    def __init__(self, inner: PgHeartbeats) -> None:
        self._inner = inner

    async def beat(self, process: str) -> None:
        await self._inner.beat(process)

    async def silent(self, processes: Any, after: float = 0.2) -> set[str]:
        return await self._inner.silent(processes, after=0.2)

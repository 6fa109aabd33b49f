"""What worker processes on one data dir share, each part over two connections to one database (as
two processes have): the delete counter behind the chain cache, running responses' rows, the
settling of a dead worker's rows, conversations' locks, and migrations raced at start-up."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from parley.config import ConfigError, load_settings
from parley.engine.conversation import ConversationLocks
from parley.engine.live import WORKER_DIED, settle_dead_workers
from parley.errors import InvalidRequest
from parley.storage.chain_cache import ChainCache, MappedDeletes
from parley.storage.processes import process_alive, this_process
from parley.storage.shared_counter import SharedCounter
from parley.storage.sqlite import Database, SqliteResponseStore
from parley.storage.sqlite.locks import SqliteLocks
from parley.storage.sqlite.migrations import MIGRATIONS, migrate
from tests.storage.test_responses_store import item, response, save_chain


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    """Two connections to one database file, each on its own thread, as two workers have."""
    first, second = Database(tmp_path / "parley.db"), Database(tmp_path / "parley.db")
    yield first, second
    await first.aclose()
    await second.aclose()


def dead_worker() -> str:
    """The name a worker that has exited had (its pid is gone)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return f"{socket.gethostname()}:{int(done.stdout)}:1"


async def test_a_delete_through_one_worker_empties_the_other_workers_chain_cache(
    two: tuple[Database, Database], tmp_path: Path
) -> None:
    counter = tmp_path / "responses.deletes"
    one = ChainCache(SqliteResponseStore(two[0]), deletes=MappedDeletes(SharedCounter(counter)))
    other = ChainCache(SqliteResponseStore(two[1]), deletes=MappedDeletes(SharedCounter(counter)))
    unshared = ChainCache(SqliteResponseStore(two[1]))  # what a worker without the counter would do
    await save_chain(one, 3)
    for cache in (other, unshared):
        assert [i["id"] for i in await cache.history("r2", "alice") or []] == [
            "i0",
            "o0",
            "i1",
            "o1",
            "i2",
            "o2",
        ]
    assert await one.delete("r1", "alice")
    truth = [i["id"] for i in await SqliteResponseStore(two[1]).history("r2", "alice") or []]
    assert truth == ["i2", "o2"]  # r1 is gone, and the chain with it
    assert [i["id"] for i in await other.history("r2", "alice") or []] == truth
    assert len(await unshared.history("r2", "alice") or []) == 6  # stale: why the counter exists


async def test_a_running_response_is_read_by_every_worker_and_continued_by_none_until_it_ends(
    two: tuple[Database, Database],
) -> None:
    one, other = SqliteResponseStore(two[0]), SqliteResponseStore(two[1])
    await save_chain(one, 1)
    running = {**response("r1", "r0", []), "status": "in_progress"}
    await one.begin(running, "alice", this_process())
    assert await other.get("r1", "alice") == running
    assert await other.get("r1", "bob") is None
    assert await other.history("r1", "alice") is None
    assert await other.running() == [("r1", "alice", this_process())]
    assert not await other.delete("r1", "alice")  # its end would write it back
    await one.save(response("r1", "r0", [item("o1")]), [item("i1")], "alice")
    assert await other.running() == []
    assert [i["id"] for i in await other.history("r1", "alice") or []] == ["i0", "o0", "i1", "o1"]


async def test_the_rows_a_dead_worker_left_running_are_settled_as_failed(
    two: tuple[Database, Database],
) -> None:
    store = SqliteResponseStore(two[0])
    elsewhere = "another-host:1:1"
    for rid, worker in (("dead", dead_worker()), ("alive", this_process()), ("remote", elsewhere)):
        await store.begin({**response(rid, None, []), "status": "in_progress"}, "alice", worker)
    assert await settle_dead_workers(SqliteResponseStore(two[1])) == 1
    settled = await store.get("dead", "alice")
    assert settled is not None
    assert settled["status"] == "failed"
    assert settled["error"] == {"code": "server_error", "message": WORKER_DIED}
    assert {rid for rid, _, _ in await store.running()} == {"alive", "remote"}


def test_a_worker_is_alive_only_as_the_process_that_took_its_pid() -> None:
    me = this_process()
    assert process_alive(me)
    host, pid, _ = me.rsplit(":", 2)
    if Path("/proc/self/stat").exists():
        assert not process_alive(f"{host}:{pid}:1")  # the same pid, started at another time
    assert not process_alive(dead_worker())
    assert process_alive("some-other-host:1:1")  # cannot be told from here: assumed alive


async def test_a_conversation_is_locked_across_workers_and_a_dead_holders_lock_is_taken_back(
    two: tuple[Database, Database],
) -> None:
    one = ConversationLocks(SqliteLocks(two[0]), "other-host:1:1")
    other = ConversationLocks(SqliteLocks(two[1]), this_process())
    async with one.hold("conv_1"):
        with pytest.raises(InvalidRequest) as refused:
            async with other.hold("conv_1", wait=0.2):
                pass
        assert refused.value.code == "conversation_locked"
        async with other.hold("conv_2", wait=0.2):  # another conversation is free
            pass
    async with other.hold("conv_1", wait=0.2):
        pass
    assert await SqliteLocks(two[0]).take("conversation:conv_3", dead_worker()) != this_process()
    async with other.hold("conv_3", wait=0.2):  # its holder died holding it
        pass


async def test_a_waiting_worker_takes_the_lock_as_soon_as_it_is_released(
    two: tuple[Database, Database],
) -> None:
    one = ConversationLocks(SqliteLocks(two[0]), "other-host:1:1")
    other = ConversationLocks(SqliteLocks(two[1]), this_process())
    order: list[str] = []

    async def second() -> None:
        async with other.hold("conv_1", wait=5):
            order.append("second")

    async with one.hold("conv_1"):
        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.1)
        order.append("first")
    await waiting
    assert order == ["first", "second"]


def test_workers_starting_together_apply_each_migration_once(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        conn = sqlite3.connect(tmp_path / "parley.db", isolation_level=None, timeout=30)
        try:
            migrate(conn)
        except sqlite3.Error as exc:  # the assertion below reports it
            errors.append(exc)
        finally:
            conn.close()

    starters = [threading.Thread(target=start) for _ in range(4)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    assert errors == []
    conn = sqlite3.connect(tmp_path / "parley.db")
    assert conn.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def test_workers_is_a_count_or_auto() -> None:
    assert load_settings({}, environ={}).workers == 1
    assert load_settings({"workers": "3"}, environ={}).workers == 3
    assert load_settings({}, environ={"PARLEY_WORKERS": "auto"}).workers == (os.cpu_count() or 1)
    for bad in ("0", "many"):
        with pytest.raises(ConfigError, match="workers"):
            load_settings({"workers": bad}, environ={})


def test_the_delete_counter_is_one_value_for_every_mapping_of_its_file(tmp_path: Path) -> None:
    first, second = SharedCounter(tmp_path / "c"), SharedCounter(tmp_path / "c")
    assert (first.value(), second.value()) == (0, 0)
    bumps: list[Any] = []
    threads = [
        threading.Thread(target=lambda: bumps.extend(first.bump() for _ in range(200))) for _ in range(2)
    ]
    threads.append(threading.Thread(target=lambda: bumps.extend(second.bump() for _ in range(200))))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert second.value() == 600
    assert sorted(bumps) == list(range(1, 601))
    first.close()
    second.close()

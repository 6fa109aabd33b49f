"""Locks across processes (``storage/named_locks.py``), on each backend, as a blob's lock
(``storage/blob_locks.py``) and a conversation's (``engine/conversation.py``) use them: two servers
take turns, a dead holder's lock is taken back (here, or on another machine once it went silent), a
live one's is waited for."""

from __future__ import annotations

import asyncio
import socket

import pytest

from parley.engine.conversation import ConversationLocks
from parley.errors import InvalidRequest, ServiceUnavailable
from parley.storage.blob_locks import BlobLocks
from parley.storage.locks import Locks
from parley.storage.postgres import PgDatabase, PgLocks
from parley.storage.postgres.heartbeats import PgHeartbeats
from parley.storage.processes import this_process
from parley.storage.sqlite import Database
from parley.storage.sqlite.locks import SqliteLocks

SHA = "ab" * 32


def locks_of(database: Database | PgDatabase) -> Locks:
    return PgLocks(database) if isinstance(database, PgDatabase) else SqliteLocks(database)


async def test_two_servers_take_turns_on_one_blob_and_not_on_others(database: Database | PgDatabase) -> None:
    shared = locks_of(database)
    first, second = BlobLocks(shared, this_process()), BlobLocks(shared, this_process())
    order: list[str] = []
    held = asyncio.Event()

    async def upload() -> None:
        async with first.hold(SHA):
            held.set()
            await asyncio.sleep(0.2)
            order.append("upload done")

    async def delete() -> None:
        await held.wait()
        async with second.hold("cd" * 32):  # another blob: not in the way
            order.append("other blob")
        async with second.hold(SHA):
            order.append("delete")

    await asyncio.gather(upload(), delete())
    assert order == ["other blob", "upload done", "delete"]


async def test_within_one_server_holds_of_one_blob_take_turns() -> None:
    locks, order = BlobLocks(), []

    async def hold(name: str) -> None:
        async with locks.hold(SHA):
            order.append(f"{name} in")
            await asyncio.sleep(0.05)
            order.append(f"{name} out")

    await asyncio.gather(hold("a"), hold("b"))
    assert order == ["a in", "a out", "b in", "b out"]


async def test_a_dead_holders_lock_is_taken_back(database: Database | PgDatabase) -> None:
    shared = locks_of(database)
    dead = f"{socket.gethostname()}:999999999:1#0000"  # no such pid here
    assert await shared.take(f"blob:{SHA}", dead) == dead
    async with asyncio.timeout(5), BlobLocks(shared, this_process()).hold(SHA):
        pass


async def test_a_live_holder_elsewhere_is_waited_for_then_it_is_a_503(
    database: Database | PgDatabase,
) -> None:
    shared = locks_of(database)
    assert await shared.take(f"blob:{SHA}", "elsewhere:1:1#0000") == "elsewhere:1:1#0000"
    with pytest.raises(ServiceUnavailable) as caught:
        async with BlobLocks(shared, this_process()).hold(SHA, wait=0.2):
            pass
    assert caught.value.code == "file_busy"


async def test_a_holder_elsewhere_that_went_silent_is_taken_for_dead(database: Database | PgDatabase) -> None:
    if not isinstance(database, PgDatabase):
        pytest.skip("heartbeats are PostgreSQL's: replicas on other machines")
    shared, heartbeats = PgLocks(database), PgHeartbeats(database)
    await heartbeats.beat("elsewhere:1:1")
    await database.execute("UPDATE heartbeats SET seen_at = seen_at - 3600")
    await shared.take(f"blob:{SHA}", "elsewhere:1:1#0000")
    async with asyncio.timeout(5), BlobLocks(shared, this_process(), heartbeats).hold(SHA):
        pass


async def test_a_holder_elsewhere_that_never_beat_is_not_taken_for_dead(
    database: Database | PgDatabase,
) -> None:
    if not isinstance(database, PgDatabase):
        pytest.skip("heartbeats are PostgreSQL's: replicas on other machines")
    shared, heartbeats = PgLocks(database), PgHeartbeats(database)
    await shared.take(f"blob:{SHA}", "elsewhere:2:1#0000")  # e.g. parley ingest, which does not beat
    with pytest.raises(ServiceUnavailable):
        async with BlobLocks(shared, this_process(), heartbeats).hold(SHA, wait=0.2):
            pass


async def test_a_conversation_held_by_a_replica_that_went_silent_is_taken_back(
    database: Database | PgDatabase,
) -> None:
    """A replica killed mid-response on another machine never releases its conversation's lock:
    once it misses its heartbeats another replica takes the conversation over; until then, it waits."""
    if not isinstance(database, PgDatabase):
        pytest.skip("heartbeats are PostgreSQL's: replicas on other machines")
    shared, heartbeats = PgLocks(database), PgHeartbeats(database)
    await heartbeats.beat("elsewhere:3:1")
    await shared.take("conversation:conv_1", "elsewhere:3:1")
    locks = ConversationLocks(shared, this_process(), heartbeats)
    with pytest.raises(InvalidRequest) as caught:
        async with locks.hold("conv_1", wait=0.2):
            pass
    assert caught.value.code == "conversation_locked"
    await database.execute("UPDATE heartbeats SET seen_at = seen_at - 3600")
    async with asyncio.timeout(5), locks.hold("conv_1"):
        pass

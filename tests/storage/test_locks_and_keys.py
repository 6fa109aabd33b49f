"""Locks across processes and API keys, on SQLite and PostgreSQL: the same answers from both, and
in PostgreSQL the same answers when many connections ask at once (twenty tasks over the pool's
ten connections)."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg
import pytest

from parley.engine.conversation import ConversationLocks
from parley.errors import InvalidRequest
from parley.storage.keys import ApiKey, KeyStore
from parley.storage.locks import Locks
from parley.storage.postgres import PgDatabase
from parley.storage.postgres.keys import PgKeyStore
from parley.storage.postgres.locks import PgLocks
from parley.storage.processes import this_process
from parley.storage.sqlite import Database
from parley.storage.sqlite.keys import SqliteKeyStore
from parley.storage.sqlite.locks import SqliteLocks
from tests.storage.test_worker_state import dead_worker


def locks_of(database: Database | PgDatabase) -> Locks:
    """A process's view of the shared locks: each call gives another one."""
    return PgLocks(database) if isinstance(database, PgDatabase) else SqliteLocks(database)


@pytest.fixture
def keys(database: Database | PgDatabase) -> KeyStore:
    return PgKeyStore(database) if isinstance(database, PgDatabase) else SqliteKeyStore(database)


async def test_a_lock_is_its_first_takers_until_that_one_releases_it(database: Database | PgDatabase) -> None:
    one, other = locks_of(database), locks_of(database)
    assert await one.take("conversation:conv_1", "a") == "a"
    assert await other.take("conversation:conv_1", "b") == "a"
    assert await one.take("conversation:conv_1", "a") == "a"  # taking it again changes nothing
    assert await other.take("conversation:conv_2", "b") == "b"  # another name is free
    await other.release("conversation:conv_1", "b")  # not b's to release
    assert await other.take("conversation:conv_1", "b") == "a"
    await one.release("conversation:conv_1", "a")
    assert await other.take("conversation:conv_1", "b") == "b"


async def test_a_conversation_is_held_by_one_process_and_a_dead_holders_lock_is_taken_back(
    database: Database | PgDatabase,
) -> None:
    one = ConversationLocks(locks_of(database), "other-host:1:1")
    other = ConversationLocks(locks_of(database), this_process())
    async with one.hold("conv_1"):
        with pytest.raises(InvalidRequest) as refused:
            async with other.hold("conv_1", wait=0.2):
                pass
        assert refused.value.code == "conversation_locked"
    async with other.hold("conv_1", wait=0.2):
        pass
    assert await locks_of(database).take("conversation:conv_3", dead_worker()) != this_process()
    async with other.hold("conv_3", wait=0.2):  # its holder died holding it
        pass


async def test_takers_racing_for_a_free_lock_all_see_one_holder(database: Database | PgDatabase) -> None:
    holders = await asyncio.gather(
        *(locks_of(database).take("conversation:conv_1", f"p{n}") for n in range(20))
    )
    assert len(set(holders)) == 1
    winner = holders[0]
    await locks_of(database).release("conversation:conv_1", winner)
    assert await locks_of(database).take("conversation:conv_1", "late") == "late"  # nobody else held it


def key(key_id: str, created_at: int = 5) -> ApiKey:
    return ApiKey(key_id, f"owner-of-{key_id}", key_id == "key_admin", "", "sk-parley-abcd…", created_at)


async def test_keys_are_listed_in_the_order_they_were_added_and_revoked_once(keys: KeyStore) -> None:
    for key_id, created_at in [("key_c", 5), ("key_admin", 5), ("key_b", 4)]:  # ids out of order
        await keys.add(key(key_id, created_at), f"digest-{key_id}")
    assert [k.id for k in await keys.all()] == ["key_b", "key_c", "key_admin"]
    assert await keys.active() == {
        "digest-key_b": key("key_b", 4),
        "digest-key_c": key("key_c"),
        "digest-key_admin": key("key_admin"),
    }
    assert await keys.revoke("key_c", 9)
    assert not await keys.revoke("key_c", 10)
    assert not await keys.revoke("key_missing", 10)
    assert set(await keys.active()) == {"digest-key_b", "digest-key_admin"}
    assert [(k.id, k.revoked_at) for k in await keys.all()] == [
        ("key_b", None),
        ("key_c", 9),
        ("key_admin", None),
    ]


async def test_a_digest_belongs_to_one_key(keys: KeyStore) -> None:
    await keys.add(key("key_a"), "digest")
    with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
        await keys.add(key("key_b"), "digest")
    assert [k.id for k in await keys.all()] == ["key_a"]


async def test_revokers_racing_for_one_key_are_told_it_was_revoked_once(keys: KeyStore) -> None:
    await keys.add(key("key_a"), "digest")
    revoked = await asyncio.gather(*(keys.revoke("key_a", when) for when in range(20)))
    assert revoked.count(True) == 1

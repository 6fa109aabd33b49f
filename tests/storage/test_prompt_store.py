"""The prompt stores, SQLite's and PostgreSQL's: versions numbered in order, one default, and owners
kept apart; in PostgreSQL, also when writers on many connections race for the next version."""

from __future__ import annotations

import asyncio

import pytest

from parley.storage.postgres import PgDatabase
from parley.storage.postgres.prompts import PgPromptStore
from parley.storage.prompts import PromptStore, PromptTemplate, PromptVersion
from parley.storage.sqlite import Database
from parley.storage.sqlite.prompts import SqlitePromptStore

V1 = PromptTemplate("You are a {{ role }} assistant.", ["role"])
V2 = PromptTemplate("You are a casual {{role}}.", ["role"], model="small", tools=[{"type": "web_search"}])


@pytest.fixture
async def store(database: Database | PgDatabase) -> PromptStore:
    """Each backend's store, holding alice's ``pmpt_a`` at version 1."""
    s: PromptStore = (
        PgPromptStore(database) if isinstance(database, PgDatabase) else SqlitePromptStore(database)
    )
    await s.create("pmpt_a", V1, 7, "alice")
    return s


def numbers(versions: list[PromptVersion] | None) -> list[tuple[int, bool]]:
    assert versions is not None
    return [(v.version, v.is_default) for v in versions]


async def test_round_trips(store: PromptStore) -> None:
    assert await store.get("pmpt_a", "alice") == PromptVersion("pmpt_a", 1, V1, 7, is_default=True)
    second = await store.add_version("pmpt_a", V2, "alice", replaces=1, make_default=True)
    assert isinstance(second, PromptVersion)
    assert (second.version, second.template, second.is_default) == (2, V2, True)
    assert await store.get("pmpt_a", "alice") == second
    first = await store.get("pmpt_a", "alice", 1)
    assert first is not None
    assert (first.template, first.is_default) == (V1, False)
    assert numbers(await store.versions("pmpt_a", "alice")) == [(1, False), (2, True)]
    assert await store.set_default("pmpt_a", 1, "alice") == PromptVersion("pmpt_a", 1, V1, 7, is_default=True)
    assert numbers(await store.versions("pmpt_a", "alice")) == [(1, True), (2, False)]
    assert [v.version for v in await store.list("alice")] == [1]
    assert await store.delete("pmpt_a", "alice")
    assert not await store.delete("pmpt_a", "alice")
    assert await store.get("pmpt_a", "alice") is None
    assert await store.versions("pmpt_a", "alice") is None


async def test_only_the_latest_version_can_be_replaced(store: PromptStore) -> None:
    await store.add_version("pmpt_a", V2, "alice", replaces=1, make_default=False)
    assert await store.add_version("pmpt_a", V1, "alice", replaces=1, make_default=True) == 2
    assert await store.add_version("pmpt_missing", V1, "alice", replaces=1, make_default=True) is None
    assert numbers(await store.versions("pmpt_a", "alice")) == [(1, True), (2, False)]


async def test_two_writers_replacing_one_version_cannot_both_win(store: PromptStore) -> None:
    outcomes = await asyncio.gather(
        *(store.add_version("pmpt_a", V2, "alice", replaces=1, make_default=True) for _ in range(5))
    )
    assert sorted(isinstance(o, PromptVersion) for o in outcomes) == [False] * 4 + [True]
    assert numbers(await store.versions("pmpt_a", "alice")) == [(1, False), (2, True)]


async def test_list_gives_each_prompts_default_newest_first(store: PromptStore) -> None:
    await store.create("pmpt_b", V2, 9, "alice")
    await store.add_version("pmpt_a", V2, "alice", replaces=1, make_default=False)
    assert [(v.prompt_id, v.version) for v in await store.list("alice")] == [("pmpt_b", 1), ("pmpt_a", 1)]


async def test_another_owner_sees_and_changes_nothing(store: PromptStore) -> None:
    assert await store.get("pmpt_a", "mallory") is None
    assert await store.get("pmpt_a", "mallory", 1) is None
    assert await store.versions("pmpt_a", "mallory") is None
    assert await store.list("mallory") == []
    assert await store.add_version("pmpt_a", V2, "mallory", replaces=1, make_default=True) is None
    assert await store.set_default("pmpt_a", 1, "mallory") is None
    assert not await store.delete("pmpt_a", "mallory")
    assert numbers(await store.versions("pmpt_a", "alice")) == [(1, True)]


async def test_unknown_versions_change_nothing(store: PromptStore) -> None:
    assert await store.get("pmpt_a", "alice", 2) is None
    assert await store.set_default("pmpt_a", 2, "alice") is None
    assert numbers(await store.versions("pmpt_a", "alice")) == [(1, True)]


async def test_writers_racing_each_get_a_version_of_their_own(store: PromptStore) -> None:
    """Each writer replaces the latest version it last read, and reads again when told it lost:
    every one ends with a distinct number, and no version is lost or written twice (in PostgreSQL,
    twenty writers on the pool's ten connections at once)."""

    async def write(make_default: bool) -> int:
        latest = 1
        while True:
            outcome = await store.add_version(
                "pmpt_a", V2, "alice", replaces=latest, make_default=make_default
            )
            if isinstance(outcome, PromptVersion):
                return outcome.version
            assert isinstance(outcome, int)
            latest = outcome

    won = await asyncio.gather(*(write(n % 2 == 0) for n in range(20)))
    assert sorted(won) == list(range(2, 22))
    versions = await store.versions("pmpt_a", "alice")
    assert versions is not None
    assert [v.version for v in versions] == list(range(1, 22))

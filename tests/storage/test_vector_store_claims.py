"""Claims on files in progress: one worker ingests each, and a dead worker's files are taken over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from parley.storage.library import VectorStoreFileRecord, VectorStoreRecord, VectorStoreStore
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.vector_stores import PgVectorStoreStore
from parley.storage.sqlite import Database, SqliteVectorStoreStore
from tests.support.postgres import fresh_schema


def vsf(store_id: str, file_id: str) -> VectorStoreFileRecord:
    return VectorStoreFileRecord(store_id, file_id, 100, "in_progress", {}, {"type": "auto"}, "ab" * 32)


async def with_stores(store: VectorStoreStore) -> VectorStoreStore:
    for store_id, owner in (("vs_1", "alice"), ("vs_2", "bob")):
        await store.create(VectorStoreRecord(store_id, "s", 1, 1, {}, None, "m", 4), owner)
    return store


@pytest.fixture
async def store(database: Database | PgDatabase) -> VectorStoreStore:
    if isinstance(database, PgDatabase):
        return await with_stores(PgVectorStoreStore(database))
    return await with_stores(SqliteVectorStoreStore(database))


def ids(claimed: list[tuple[str, VectorStoreFileRecord]]) -> list[tuple[str, str]]:
    return [(owner, record.file_id) for owner, record in claimed]


async def test_only_unheld_or_expired_files_are_claimed_and_only_once(store: VectorStoreStore) -> None:
    await store.attach([vsf("vs_1", "file-free")], "alice")
    await store.attach([vsf("vs_1", "file-held")], "alice", ("w-live", 3600.0))
    await store.attach([vsf("vs_2", "file-dead")], "bob", ("w-dead", -1.0))
    assert sorted(ids(await store.claim_unfinished("w-new", 60.0))) == [
        ("alice", "file-free"),
        ("bob", "file-dead"),
    ]
    assert await store.claim_unfinished("w-other", 60.0) == []  # w-new holds them now


async def test_claims_come_oldest_first(store: VectorStoreStore) -> None:
    await store.attach([replace(vsf("vs_1", "file-b"), created_at=101), vsf("vs_1", "file-c")], "alice")
    await store.attach([vsf("vs_2", "file-a")], "bob")
    assert ids(await store.claim_unfinished("w-1", 60.0)) == [
        ("alice", "file-c"),
        ("bob", "file-a"),
        ("alice", "file-b"),
    ]


async def test_renewed_claims_stay_and_released_ones_are_taken_at_once(store: VectorStoreStore) -> None:
    await store.attach([vsf("vs_1", "file-1")], "alice", ("w-1", 0.0))
    await store.renew_claims("w-1", 3600.0)
    assert await store.claim_unfinished("w-2", 60.0) == []
    await store.release_claims("w-1")
    assert ids(await store.claim_unfinished("w-2", 60.0)) == [("alice", "file-1")]


async def test_only_the_claim_holder_records_the_outcome(store: VectorStoreStore) -> None:
    await store.attach([vsf("vs_1", "file-1")], "alice", ("w-1", -1.0))
    assert ids(await store.claim_unfinished("w-2", 60.0)) == [("alice", "file-1")]  # w-1 died
    done = replace(vsf("vs_1", "file-1"), status="completed")
    assert not await store.finish_file(done, "alice", "w-1")  # back from the dead: too late
    assert not await store.finish_file(done, "bob", "w-2")  # another owner's file is missing
    assert await store.finish_file(done, "alice", "w-2")
    assert await store.claim_unfinished("w-3", 60.0) == []  # finished files are never claimed


# PostgreSQL: replicas, each with its own pool of connections, on one database.

REPLICAS = 2


@pytest.fixture
async def replicas(postgres_url: str) -> AsyncIterator[list[VectorStoreStore]]:
    async with fresh_schema(postgres_url) as url:
        databases = [await PgDatabase.open(url) for _ in range(REPLICAS)]
        yield [PgVectorStoreStore(database) for database in databases]
        for database in databases:
            await database.aclose()


@pytest.mark.parametrize("lease", [None, -1.0], ids=["never-claimed", "lease-ran-out"])
async def test_claims_racing_on_every_replica_take_each_file_exactly_once(
    replicas: list[VectorStoreStore], lease: float | None
) -> None:
    first = await with_stores(replicas[0])
    files = [vsf("vs_1", f"file-{n:02}") for n in range(60)]
    await first.attach(files, "alice", None if lease is None else ("w-dead", lease))
    workers = [f"w{n}" for n in range(30)]
    claimed = await asyncio.gather(
        *(replicas[n % REPLICAS].claim_unfinished(w, 60.0) for n, w in enumerate(workers))
    )
    taken = [record.file_id for batch in claimed for _, record in batch]
    assert sorted(taken) == [f.file_id for f in files]  # every file, none twice
    for worker, batch in zip(workers, claimed, strict=True):  # each is its claimer's to finish
        for owner, record in batch[:1]:
            assert await replicas[1].finish_file(replace(record, status="completed"), owner, worker)
    assert await replicas[1].claim_unfinished("late", 60.0) == []

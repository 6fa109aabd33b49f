"""Claims on files in progress: one worker ingests each, and a dead worker's files are taken over."""

from __future__ import annotations

from dataclasses import replace

from parley.storage.library import VectorStoreFileRecord, VectorStoreRecord
from parley.storage.sqlite import Database, SqliteVectorStoreStore


def vsf(store_id: str, file_id: str) -> VectorStoreFileRecord:
    return VectorStoreFileRecord(store_id, file_id, 100, "in_progress", {}, {"type": "auto"}, "ab" * 32)


async def stores(db: Database) -> SqliteVectorStoreStore:
    store = SqliteVectorStoreStore(db)
    for store_id, owner in (("vs_1", "alice"), ("vs_2", "bob")):
        await store.create(VectorStoreRecord(store_id, "s", 1, 1, {}, None, "m", 4), owner)
    return store


def ids(claimed: list[tuple[str, VectorStoreFileRecord]]) -> list[tuple[str, str]]:
    return [(owner, record.file_id) for owner, record in claimed]


async def test_only_unheld_or_expired_files_are_claimed_and_only_once(db: Database) -> None:
    store = await stores(db)
    await store.attach([vsf("vs_1", "file-free")], "alice")
    await store.attach([vsf("vs_1", "file-held")], "alice", ("w-live", 3600.0))
    await store.attach([vsf("vs_2", "file-dead")], "bob", ("w-dead", -1.0))
    assert sorted(ids(await store.claim_unfinished("w-new", 60.0))) == [
        ("alice", "file-free"),
        ("bob", "file-dead"),
    ]
    assert await store.claim_unfinished("w-other", 60.0) == []  # w-new holds them now


async def test_renewed_claims_stay_and_released_ones_are_taken_at_once(db: Database) -> None:
    store = await stores(db)
    await store.attach([vsf("vs_1", "file-1")], "alice", ("w-1", 0.0))
    await store.renew_claims("w-1", 3600.0)
    assert await store.claim_unfinished("w-2", 60.0) == []
    await store.release_claims("w-1")
    assert ids(await store.claim_unfinished("w-2", 60.0)) == [("alice", "file-1")]


async def test_only_the_claim_holder_records_the_outcome(db: Database) -> None:
    store = await stores(db)
    await store.attach([vsf("vs_1", "file-1")], "alice", ("w-1", -1.0))
    assert ids(await store.claim_unfinished("w-2", 60.0)) == [("alice", "file-1")]  # w-1 died
    done = replace(vsf("vs_1", "file-1"), status="completed")
    assert not await store.finish_file(done, "alice", "w-1")  # back from the dead: too late
    assert not await store.finish_file(done, "bob", "w-2")  # another owner's file is missing
    assert await store.finish_file(done, "alice", "w-2")
    assert await store.claim_unfinished("w-3", 60.0) == []  # finished files are never claimed

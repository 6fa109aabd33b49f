"""The vector-store store, on both backends: stores, files, batches, counts and owner isolation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from parley.storage.library import (
    FileBatchRecord,
    FileListQuery,
    VectorStoreFileRecord,
    VectorStoreRecord,
    VectorStoreStore,
)
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.vector_stores import PgVectorStoreStore
from parley.storage.sqlite import Database, SqliteVectorStoreStore


@pytest.fixture
def store(database: Database | PgDatabase) -> VectorStoreStore:
    if isinstance(database, PgDatabase):
        return PgVectorStoreStore(database)
    return SqliteVectorStoreStore(database)


def vs(vid: str, created_at: int = 100, name: str = "docs") -> VectorStoreRecord:
    return VectorStoreRecord(vid, name, created_at, created_at, {"k": "v"}, None, "minilm", 384)


def vsf(vid: str, fid: str, created_at: int = 100, batch: str | None = None) -> VectorStoreFileRecord:
    return VectorStoreFileRecord(
        vid, fid, created_at, "in_progress", {"region": "eu"}, {"type": "auto"}, fid[-1] * 64, batch_id=batch
    )


async def test_another_owner_sees_nothing(store: VectorStoreStore) -> None:
    await store.create(vs("vs_1"), "alice")
    await store.attach([vsf("vs_1", "file-1")], "alice")
    assert await store.get("vs_1", "bob") is None
    assert await store.find_by_name("docs", "bob") is None
    assert await store.list("bob", after=None, before=None, limit=10, order="desc") == ([], False)
    assert await store.update("vs_1", "bob", {"name": "x"}) is None
    assert await store.get_file("vs_1", "file-1", "bob") is None
    assert await store.list_files("vs_1", "bob", FileListQuery()) == ([], False)
    assert await store.set_attributes("vs_1", "file-1", "bob", {}) is None
    assert not await store.detach("vs_1", "file-1", "bob")
    assert await store.stores_of_file("file-1", "bob") == []
    assert not await store.delete("vs_1", "bob")
    found = await store.get("vs_1", "alice")
    assert found is not None
    assert found.name == "docs"
    assert found.file_counts == {"in_progress": 1}


async def test_counts_usage_and_status_follow_the_files(store: VectorStoreStore) -> None:
    await store.create(vs("vs_1"), "alice")
    await store.attach([vsf("vs_1", "file-1"), vsf("vs_1", "file-2")], "alice")
    found = await store.get("vs_1", "alice")
    assert found is not None
    assert found.wire(200)["status"] == "in_progress"
    done = replace(vsf("vs_1", "file-1"), status="completed", usage_bytes=40)
    assert await store.finish_file(done, "alice")
    failed = replace(
        vsf("vs_1", "file-2"), status="failed", last_error={"code": "invalid_file", "message": "x"}
    )
    assert await store.finish_file(failed, "alice")
    assert not await store.finish_file(done, "alice")  # only an in_progress file can finish
    wire = (await store.get("vs_1", "alice")).wire(200)  # type: ignore[union-attr]
    assert wire["status"] == "completed"
    assert wire["usage_bytes"] == 40
    assert wire["file_counts"] == {"in_progress": 0, "completed": 1, "failed": 1, "cancelled": 0, "total": 2}
    row = await store.get_file("vs_1", "file-2", "alice")
    assert row is not None
    assert row.wire()["last_error"] == {"code": "invalid_file", "message": "x"}


async def test_expiry_is_anchored_on_last_activity(store: VectorStoreStore) -> None:
    await store.create(replace(vs("vs_1"), expires_after_days=1), "alice")
    await store.touch("vs_1", "alice", 1000)
    found = await store.get("vs_1", "alice")
    assert found is not None
    assert found.wire(1000)["expires_at"] == 1000 + 86400
    assert found.wire(1000 + 86400)["status"] == "expired"
    updated = await store.update("vs_1", "alice", {"name": "new", "metadata": {}, "expires_after_days": None})
    assert updated is not None
    assert (updated.name, updated.metadata, updated.expires_at()) == ("new", {}, None)


async def test_pagination_after_and_before(store: VectorStoreStore) -> None:
    for n in range(5):
        await store.create(vs(f"vs_{n}", 100 + n), "alice")
    page = await store.list("alice", after=None, before=None, limit=2, order="desc")
    assert [r.id for r in page[0]] == ["vs_4", "vs_3"]
    assert page[1]
    page = await store.list("alice", after="vs_3", before=None, limit=2, order="desc")
    assert [r.id for r in page[0]] == ["vs_2", "vs_1"]
    assert page[1]
    page = await store.list("alice", after=None, before="vs_1", limit=2, order="desc")
    assert [r.id for r in page[0]] == ["vs_3", "vs_2"]
    assert page[1]
    page = await store.list("alice", after="vs_1", before=None, limit=5, order="asc")
    assert [r.id for r in page[0]] == ["vs_2", "vs_3", "vs_4"]
    assert not page[1]
    for n in range(4):
        await store.attach([vsf("vs_0", f"file-{n}", 100 + n)], "alice")
    files, more = await store.list_files("vs_0", "alice", FileListQuery(after="file-1", limit=1, order="asc"))
    assert [f.file_id for f in files] == ["file-2"]
    assert more


async def test_batches_count_their_files_and_cancel(store: VectorStoreStore) -> None:
    await store.create(vs("vs_1"), "alice")
    await store.create_batch(FileBatchRecord("vsfb_1", "vs_1", 100, False), "alice")
    await store.attach(
        [vsf("vs_1", "file-1", batch="vsfb_1"), vsf("vs_1", "file-2", batch="vsfb_1")], "alice"
    )
    await store.finish_file(replace(vsf("vs_1", "file-1"), status="completed"), "alice")
    assert await store.get_batch("vs_1", "vsfb_1", "bob") is None
    batch = await store.cancel_batch("vs_1", "vsfb_1", "alice")
    assert batch is not None
    assert batch.wire()["status"] == "cancelled"
    assert batch.wire()["file_counts"] == {
        "in_progress": 0,
        "completed": 1,
        "failed": 0,
        "cancelled": 1,
        "total": 2,
    }
    files, _ = await store.list_files("vs_1", "alice", FileListQuery(status="cancelled", batch_id="vsfb_1"))
    assert [f.file_id for f in files] == ["file-2"]


async def test_delete_cascades_and_unfinished_lists_every_owner(store: VectorStoreStore) -> None:
    await store.create(vs("vs_1"), "alice")
    await store.create(vs("vs_2"), "bob")
    await store.attach([vsf("vs_1", "file-1")], "alice")
    await store.attach([vsf("vs_2", "file-2")], "bob")
    assert [(owner, f.file_id) for owner, f in await store.unfinished()] == [
        ("alice", "file-1"),
        ("bob", "file-2"),
    ]
    assert await store.find_file_by_sha256("vs_1", "1" * 64, "alice") is not None
    assert await store.stores_of_file("file-1", "alice") == ["vs_1"]
    assert await store.delete("vs_1", "alice")
    assert await store.get_file("vs_1", "file-1", "alice") is None
    assert [f.file_id for _, f in await store.unfinished()] == ["file-2"]


async def test_attributes_and_metadata_come_back_as_they_went_in(store: VectorStoreStore) -> None:
    metadata = {"team": "docs", "note": 'ünïcode "quoted"'}
    await store.create(replace(vs("vs_1"), metadata=metadata), "alice")
    attributes: dict[str, str | float | bool] = {"region": "eu", "year": 2024, "score": 0.5, "draft": False}
    await store.attach([replace(vsf("vs_1", "file-1"), attributes=attributes)], "alice")
    found = await store.get("vs_1", "alice")
    assert found is not None
    assert found.metadata == metadata
    row = await store.get_file("vs_1", "file-1", "alice")
    assert row is not None
    assert row.attributes == attributes
    assert row.chunking_strategy == {"type": "auto"}
    changed = await store.set_attributes("vs_1", "file-1", "alice", {"draft": True})
    assert changed is not None
    assert changed.attributes == {"draft": True}


async def test_files_of_one_second_keep_the_order_they_were_attached_in(store: VectorStoreStore) -> None:
    await store.create(vs("vs_1"), "alice")
    await store.attach([vsf("vs_1", "file-b"), vsf("vs_1", "file-a")], "alice")
    await store.attach([vsf("vs_1", "file-c")], "alice")
    await store.attach([replace(vsf("vs_1", "file-b"), attributes={})], "alice")  # reset, same place
    files, _ = await store.list_files("vs_1", "alice", FileListQuery(order="asc"))
    assert [f.file_id for f in files] == ["file-b", "file-a", "file-c"]
    files, more = await store.list_files(
        "vs_1", "alice", FileListQuery(before="file-c", limit=1, order="asc")
    )
    assert ([f.file_id for f in files], more) == (["file-a"], True)
    assert [f.file_id for _, f in await store.unfinished()] == ["file-b", "file-a", "file-c"]


async def test_a_file_named_twice_in_one_attach_is_attached_once_with_its_last_state(
    store: VectorStoreStore,
) -> None:
    await store.create(vs("vs_1"), "alice")
    await store.attach(
        [vsf("vs_1", "file-1"), vsf("vs_1", "file-2"), replace(vsf("vs_1", "file-1"), attributes={})], "alice"
    )
    await store.attach([], "alice")
    files, _ = await store.list_files("vs_1", "alice", FileListQuery(order="asc"))
    assert [(f.file_id, f.attributes) for f in files] == [("file-1", {}), ("file-2", {"region": "eu"})]


async def test_stores_of_one_second_list_and_find_newest_by_insertion(store: VectorStoreStore) -> None:
    for vid in ("vs_b", "vs_c", "vs_a"):
        await store.create(vs(vid), "alice")
    page, more = await store.list("alice", after=None, before=None, limit=2, order="desc")
    assert ([r.id for r in page], more) == (["vs_a", "vs_c"], True)
    found = await store.find_by_name("docs", "alice")
    assert found is not None
    assert found.id == "vs_a"
    assert await store.update("vs_a", "alice", {"unknown": 1}) == found

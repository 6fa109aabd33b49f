"""The file store, on both backends, and the content-addressed blob store."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from parley.errors import PayloadTooLarge
from parley.storage.blobs import BlobStore
from parley.storage.library import FileRecord, FileStore
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.files import PgFileStore
from parley.storage.sqlite import Database, SqliteFileStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database: Database | PgDatabase, clock: Clock) -> FileStore:
    if isinstance(database, PgDatabase):
        return PgFileStore(database, clock)
    return SqliteFileStore(database, clock)


def record(fid: str, created_at: int = 1_000_000, *, expires_at: int | None = None, **kw: str) -> FileRecord:
    return FileRecord(
        id=fid,
        filename=kw.get("filename", f"{fid}.txt"),
        bytes=3,
        purpose=kw.get("purpose", "assistants"),
        created_at=created_at,
        expires_at=expires_at,
        sha256=kw.get("sha256", "a" * 64),
    )


async def test_another_owner_sees_nothing(store: FileStore) -> None:
    await store.add(record("file-1"), "alice")
    assert await store.get("file-1", "alice") == record("file-1")
    assert await store.get("file-1", "bob") is None
    assert (await store.list("bob", purpose=None, after=None, limit=10, order="desc")).data == []
    assert await store.delete("file-1", "bob") is None
    assert await store.find_by_sha256("a" * 64, "bob") == []
    assert await store.get("file-1", "alice") is not None


async def test_list_pages_by_creation_with_purpose_filter(store: FileStore) -> None:
    for n in range(5):
        await store.add(
            record(f"file-{n}", 1_000_000 + n, purpose="batch" if n == 2 else "assistants"), "alice"
        )
    first = await store.list("alice", purpose=None, after=None, limit=2, order="desc")
    assert [f["id"] for f in first.data] == ["file-4", "file-3"]
    assert first.has_more
    rest = await store.list("alice", purpose=None, after="file-3", limit=10, order="desc")
    assert [f["id"] for f in rest.data] == ["file-2", "file-1", "file-0"]
    assert not rest.has_more
    asc = await store.list("alice", purpose="assistants", after="file-0", limit=10, order="asc")
    assert [f["id"] for f in asc.data] == ["file-1", "file-3", "file-4"]


async def test_expired_files_read_as_missing(store: FileStore, clock: Clock) -> None:
    await store.add(record("file-1", expires_at=1_000_100), "alice")
    assert await store.get("file-1", "alice") is not None
    clock.now = 1_000_100
    assert await store.get("file-1", "alice") is None
    assert (await store.list("alice", purpose=None, after=None, limit=10, order="desc")).data == []
    assert await store.delete("file-1", "alice") is None
    assert await store.sha256_in_use("a" * 64)  # the row is still there until someone deletes it


async def test_delete_reports_whether_the_blob_is_still_needed(store: FileStore) -> None:
    await store.add(record("file-1"), "alice")
    await store.add(record("file-2"), "bob")
    deleted = await store.delete("file-1", "alice")
    assert deleted is not None
    assert deleted.sha256 == "a" * 64
    assert await store.sha256_in_use("a" * 64)
    await store.delete("file-2", "bob")
    assert not await store.sha256_in_use("a" * 64)


async def test_files_of_one_second_list_in_the_order_they_were_added(store: FileStore) -> None:
    for fid in ("file-b", "file-c", "file-a"):  # ids in another order than insertion
        await store.add(record(fid), "alice")
    desc = await store.list("alice", purpose=None, after=None, limit=2, order="desc")
    assert [f["id"] for f in desc.data] == ["file-a", "file-c"]
    rest = await store.list("alice", purpose=None, after="file-c", limit=2, order="desc")
    assert [f["id"] for f in rest.data] == ["file-b"]
    asc = await store.list("alice", purpose=None, after="file-b", limit=5, order="asc")
    assert [f["id"] for f in asc.data] == ["file-c", "file-a"]
    assert [r.id for r in await store.find_by_sha256("a" * 64, "alice")] == ["file-b", "file-c", "file-a"]


async def test_get_many_skips_missing_and_expired(store: FileStore, clock: Clock) -> None:
    await store.add(record("file-1"), "alice")
    await store.add(record("file-2", expires_at=int(clock.now)), "alice")
    assert await store.get_many(["file-1", "file-2", "file-3"], "alice") == {"file-1": record("file-1")}
    assert await store.get_many([], "alice") == {}


async def test_a_file_deleted_by_many_at_once_is_returned_once(store: FileStore) -> None:
    """Each caller that gets the record back drops the blob once nobody uses it: only one may."""
    await store.add(record("file-1"), "alice")
    deleted = await asyncio.gather(*(store.delete("file-1", "alice") for _ in range(20)))
    assert [d.id for d in deleted if d is not None] == ["file-1"]


async def test_blobs_are_content_addressed_and_limited(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "files")
    sha, size = await blobs.write(io.BytesIO(b"hello"), limit=5)
    assert size == 5
    assert blobs.path(sha) == tmp_path / "files" / sha[:2] / sha
    assert await blobs.read(sha) == b"hello"
    assert await blobs.write(io.BytesIO(b"hello"), limit=5) == (sha, 5)
    with pytest.raises(PayloadTooLarge):
        await blobs.write(io.BytesIO(b"hello!"), limit=5)
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == [sha[:2]]  # no temp file left
    await blobs.delete(sha)
    assert not blobs.path(sha).exists()
    with pytest.raises(ValueError, match="sha256"):
        blobs.path("../../etc/passwd")

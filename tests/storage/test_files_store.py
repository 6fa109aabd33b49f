"""The SQLite file store and the content-addressed blob store."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.errors import PayloadTooLarge
from parley.storage.blobs import BlobStore
from parley.storage.library import FileRecord
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
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[SqliteFileStore]:
    db = Database(tmp_path / "parley.db")
    yield SqliteFileStore(db, clock)
    await db.aclose()


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


async def test_another_owner_sees_nothing(store: SqliteFileStore) -> None:
    await store.add(record("file-1"), "alice")
    assert await store.get("file-1", "alice") == record("file-1")
    assert await store.get("file-1", "bob") is None
    assert (await store.list("bob", purpose=None, after=None, limit=10, order="desc")).data == []
    assert await store.delete("file-1", "bob") is None
    assert await store.find_by_sha256("a" * 64, "bob") == []
    assert await store.get("file-1", "alice") is not None


async def test_list_pages_by_creation_with_purpose_filter(store: SqliteFileStore) -> None:
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


async def test_expired_files_read_as_missing(store: SqliteFileStore, clock: Clock) -> None:
    await store.add(record("file-1", expires_at=1_000_100), "alice")
    assert await store.get("file-1", "alice") is not None
    clock.now = 1_000_100
    assert await store.get("file-1", "alice") is None
    assert (await store.list("alice", purpose=None, after=None, limit=10, order="desc")).data == []
    assert await store.delete("file-1", "alice") is None
    assert await store.sha256_in_use("a" * 64)  # the row is still there until someone deletes it


async def test_delete_reports_whether_the_blob_is_still_needed(store: SqliteFileStore) -> None:
    await store.add(record("file-1"), "alice")
    await store.add(record("file-2"), "bob")
    deleted = await store.delete("file-1", "alice")
    assert deleted is not None
    assert deleted.sha256 == "a" * 64
    assert await store.sha256_in_use("a" * 64)
    await store.delete("file-2", "bob")
    assert not await store.sha256_in_use("a" * 64)


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

"""The blob-store contract (``storage/blobs.py``), run against both stores: the local directory and
an S3-compatible bucket on a real (moto) server on loopback."""

from __future__ import annotations

import io
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import obstore
import pytest

from parley.errors import PayloadTooLarge, ServiceUnavailable
from parley.storage.blobs import BlobBody, Blobs, BlobStore
from parley.storage.s3_blobs import PART, S3BlobStore, s3_location, s3_store
from tests.support.s3 import free_port, moto_server, new_bucket, point_at


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


class Store:
    """A blob store under test, and a way to see what it holds from outside it."""

    def __init__(self, blobs: Blobs, staging: Path, url: str | None = None) -> None:
        self.blobs, self.staging, self.url = blobs, staging, url

    async def names(self) -> list[str]:
        if self.url is None:
            assert isinstance(self.blobs, BlobStore)
            return sorted(
                str(p.relative_to(self.blobs.root)) for p in self.blobs.root.rglob("*") if p.is_file()
            )
        objects = await obstore.list(s3_store(self.url)).collect_async()
        return sorted(str(meta["path"]) for meta in objects)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    staging = tmp_path / "files"
    if request.param == "local":
        return Store(BlobStore(staging), staging)
    endpoint: str = request.getfixturevalue("endpoint")
    point_at(monkeypatch, endpoint)
    url = f"s3://{new_bucket(endpoint)}/team/files"
    return Store(S3BlobStore.from_url(url, staging), staging, url)


async def put(blobs: Blobs, data: bytes) -> str:
    staged = await blobs.stage(io.BytesIO(data), limit=len(data))
    try:
        await blobs.commit(staged)
    finally:
        await blobs.discard(staged)
    return staged.sha256


async def pieces(body: BlobBody | None) -> list[bytes]:
    assert body is not None
    if isinstance(body, Path):
        return [body.read_bytes()]
    return [piece async for piece in body]


async def test_round_trip(store: Store) -> None:
    sha = await put(store.blobs, b"hello blobs")
    assert await store.blobs.read(sha) == b"hello blobs"
    assert b"".join(await pieces(await store.blobs.open(sha))) == b"hello blobs"
    assert await store.names() == [f"{'team/files/' if store.url else ''}{sha[:2]}/{sha}"]
    assert [p for p in store.staging.iterdir() if p.is_file()] == []  # nothing staged is left behind


async def test_identical_content_is_stored_once(store: Store) -> None:
    first, second = await put(store.blobs, b"same"), await put(store.blobs, b"same")
    assert first == second
    assert len(await store.names()) == 1
    assert await store.blobs.read(first) == b"same"


async def test_a_large_blob_goes_and_comes_back_in_pieces(store: Store) -> None:
    data = os.urandom(2 * PART + 12345)  # more than two parts of a multipart upload
    sha = await put(store.blobs, data)
    got = await pieces(await store.blobs.open(sha))
    assert b"".join(got) == data
    if store.url is not None:
        assert len(got) > 1  # streamed, not read whole
        assert max(map(len, got)) < len(data)


async def test_delete_and_missing_blobs(store: Store) -> None:
    sha = await put(store.blobs, b"short-lived")
    await store.blobs.delete(sha)
    await store.blobs.delete(sha)  # deleting what is gone is no error
    assert await store.names() == []
    assert await store.blobs.open(sha) is None
    with pytest.raises(FileNotFoundError):
        await store.blobs.read(sha)
    assert await store.blobs.open("0" * 64) is None


async def test_over_the_limit_nothing_is_kept(store: Store) -> None:
    with pytest.raises(PayloadTooLarge):
        await store.blobs.stage(io.BytesIO(b"x" * 11), limit=10)
    assert [p for p in store.staging.iterdir() if p.is_file()] == []
    assert await store.names() == []


async def test_a_name_that_is_no_sha256_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="sha256"):
        await store.blobs.read("../../etc/passwd")


async def test_an_object_store_that_is_down_is_a_503(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(monkeypatch, f"http://127.0.0.1:{free_port()}")
    blobs = S3BlobStore.from_url("s3://nowhere", tmp_path)
    staged = await blobs.stage(io.BytesIO(b"lost"), limit=10)
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: blobs.commit(staged),
        lambda: blobs.read(staged.sha256),
        lambda: blobs.open(staged.sha256),
        lambda: blobs.delete(staged.sha256),
    ]
    for attempt in attempts:
        with pytest.raises(ServiceUnavailable, match="object store") as caught:
            await attempt()
        assert caught.value.code == "object_store_unavailable"
    await blobs.discard(staged)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "where"),
    [("s3://bucket", ("bucket", "")), ("s3://bucket/a/b/", ("bucket", "a/b"))],
)
def test_s3_location(url: str, where: tuple[str, str]) -> None:
    assert s3_location(url) == where


@pytest.mark.parametrize("url", ["http://bucket/x", "s3:///prefix", "s3://bucket/x?y=1", "bucket"])
def test_s3_location_refuses_what_is_no_s3_url(url: str) -> None:
    with pytest.raises(ValueError, match="s3://bucket"):
        s3_location(url)

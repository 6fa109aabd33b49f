"""Files whose bytes are in an S3-compatible bucket (``files_url``), end to end through the openai
SDK, over a real S3 server on loopback (moto's): upload, content, delete, file_search ingestion,
an object store that is down (503), and the setting's validation at start."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import obstore
import openai
import pytest

from parley.cli import main
from parley.config import ConfigError, load_settings
from parley.storage.s3_blobs import s3_store
from tests.api.retrieval_support import Parley, running, wait_for_file
from tests.support.s3 import free_port, moto_server, new_bucket, point_at

TEXT = b"The lease contract for the Texas warehouse has a termination clause with ninety days notice."


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def files_url(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    point_at(monkeypatch, endpoint)
    return f"s3://{new_bucket(endpoint)}/parley"


@pytest.fixture
async def parley(tmp_path: Path, files_url: str, harness_database: str | None) -> AsyncIterator[Parley]:
    async with running(tmp_path, {"files_url": files_url, "database_url": harness_database}) as server:
        yield server


def sdk(parley: Parley) -> openai.AsyncOpenAI:
    assert parley.sdk is not None
    return parley.sdk


async def objects(files_url: str) -> list[str]:
    return sorted(str(meta["path"]) for meta in await obstore.list(s3_store(files_url)).collect_async())


def local_blobs(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "files").rglob("*") if p.is_file()]


async def test_upload_content_and_delete_keep_the_bytes_in_the_bucket(
    parley: Parley, files_url: str, tmp_path: Path
) -> None:
    client = sdk(parley)
    first = await client.files.create(file=("a.txt", b"hello bucket"), purpose="assistants")
    second = await client.files.create(file=("b.txt", b"hello bucket"), purpose="assistants")
    sha = hashlib.sha256(b"hello bucket").hexdigest()
    assert await objects(files_url) == [f"parley/{sha[:2]}/{sha}"]  # identical bytes: one object
    assert local_blobs(tmp_path) == []  # nothing stays in the data dir, not even a staged upload
    content = await client.files.content(first.id)
    assert content.content == b"hello bucket"
    assert content.response.headers["content-length"] == "12"
    await client.files.delete(first.id)
    assert (await client.files.content(second.id)).content == b"hello bucket"
    await client.files.delete(second.id)
    assert await objects(files_url) == []


async def test_content_whose_object_is_gone_is_a_404(parley: Parley, files_url: str) -> None:
    client = sdk(parley)
    created = await client.files.create(file=("a.txt", b"soon gone"), purpose="assistants")
    await obstore.delete_async(s3_store(files_url), await _only(files_url))
    with pytest.raises(openai.NotFoundError, match="no longer available"):
        await client.files.content(created.id)


async def test_a_vector_store_ingests_a_file_from_the_bucket(parley: Parley) -> None:
    client = sdk(parley)
    file = await client.files.create(file=("memo.txt", TEXT), purpose="assistants")
    store = await client.vector_stores.create(name="s3", file_ids=[file.id])
    done = await wait_for_file(client, store.id, file.id)
    assert (done.status, done.last_error) == ("completed", None)
    found = await client.vector_stores.search(store.id, query="warehouse termination clause")
    assert [r.file_id for r in found.data] == [file.id]


async def test_an_object_store_that_is_down_is_a_503_and_fails_ingestion_clearly(
    tmp_path: Path, files_url: str, monkeypatch: pytest.MonkeyPatch, harness_database: str | None
) -> None:
    settings = {"files_url": files_url, "database_url": harness_database}
    up = Parley(tmp_path, settings)
    file = await up.start().files.create(file=("memo.txt", TEXT), purpose="assistants")
    await up.stop()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    down = Parley(tmp_path, settings)
    client = down.start()
    try:
        for attempt in (
            lambda: client.files.content(file.id),
            lambda: client.files.create(file=("new.txt", b"new"), purpose="assistants"),
        ):
            with pytest.raises(openai.InternalServerError) as caught:
                await attempt()
            assert caught.value.status_code == 503
            assert caught.value.code == "object_store_unavailable"
            assert "object store" in caught.value.message
        assert [f.id for f in (await client.files.list()).data] == [file.id]  # the refused upload left no row
        assert local_blobs(tmp_path) == []
        store = await client.vector_stores.create(name="s3", file_ids=[file.id])
        failed = await wait_for_file(client, store.id, file.id)
        assert failed.status == "failed"
        assert failed.last_error is not None
        assert "object store" in failed.last_error.message
    finally:
        await down.stop()


def test_files_url_must_be_an_s3_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert load_settings({}, {"PARLEY_FILES_URL": "s3://bucket/a/prefix"}).files_url == "s3://bucket/a/prefix"
    assert load_settings({}, {}).files_url is None
    with pytest.raises(ConfigError, match=r"files_url \(PARLEY_FILES_URL\) must be an S3 URL"):
        load_settings({}, {"PARLEY_FILES_URL": "https://bucket.example/files"})
    assert main(["migrate", "--data-dir", str(tmp_path), "--files-url", "bucket/prefix"]) == 2
    assert "files_url (PARLEY_FILES_URL) must be an S3 URL" in capsys.readouterr().err


async def _only(files_url: str) -> str:
    [name] = await objects(files_url)
    return name

"""The Files API through the openai SDK: upload, list, retrieve, content, delete, limits, expiry."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from tests.api.retrieval_support import Parley, running


@pytest.fixture
async def parley(tmp_path: Path) -> AsyncIterator[Parley]:
    async with running(tmp_path, {"max_file_bytes": 1000}) as server:
        yield server


def sdk(parley: Parley) -> openai.AsyncOpenAI:
    assert parley.sdk is not None
    return parley.sdk


async def test_upload_retrieve_content_and_delete(parley: Parley, tmp_path: Path) -> None:
    client = sdk(parley)
    created = await client.files.create(file=("../../etc/notes.txt", b"hello files"), purpose="assistants")
    assert created.id.startswith("file-")
    assert created.filename == "notes.txt"  # directory parts are dropped, as OpenAI does
    assert (created.bytes, created.purpose, created.object, created.expires_at) == (
        11,
        "assistants",
        "file",
        None,
    )
    assert await client.files.retrieve(created.id) == created
    content = await client.files.content(created.id)
    assert content.content == b"hello files"
    assert content.response.headers["content-type"] == "application/octet-stream"
    assert not (tmp_path / "etc").exists()
    deleted = await client.files.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "file", True)
    with pytest.raises(openai.NotFoundError) as caught:
        await client.files.retrieve(created.id)
    assert caught.value.body == {
        "message": f"No such File object: {created.id}",
        "type": "invalid_request_error",
        "param": "file_id",
        "code": "not_found",
    }
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []  # no one needs the bytes


async def test_identical_bytes_share_one_blob_until_both_are_deleted(parley: Parley, tmp_path: Path) -> None:
    client = sdk(parley)
    first = await client.files.create(file=("a.txt", b"same"), purpose="assistants")
    second = await client.files.create(file=("b.txt", b"same"), purpose="user_data")
    assert len([p for p in (tmp_path / "files").rglob("*") if p.is_file()]) == 1
    await client.files.delete(first.id)
    assert (await client.files.content(second.id)).content == b"same"
    await client.files.delete(second.id)
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []


async def test_list_filters_and_paginates(parley: Parley) -> None:
    client = sdk(parley)
    ids = [(await client.files.create(file=(f"{n}.txt", b"x"), purpose="assistants")).id for n in range(4)]
    batch = await client.files.create(file=("b.jsonl", b"{}"), purpose="batch")
    page = await client.files.list(limit=2)
    assert [f.id for f in page.data] == [batch.id, ids[3]]
    assert page.has_more
    rest = await client.files.list(limit=10, after=ids[3])
    assert [f.id for f in rest.data] == [ids[2], ids[1], ids[0]]
    assert not rest.has_more
    assert [f.id for f in (await client.files.list(purpose="assistants", order="asc")).data] == ids
    assert [f.id async for f in client.files.list(limit=1, order="asc")] == [*ids, batch.id]
    assert batch.expires_at == batch.created_at + 30 * 86400  # batch files expire after 30 days by default


async def test_file_over_the_limit_is_413(parley: Parley) -> None:
    client = sdk(parley)
    with pytest.raises(openai.APIStatusError) as caught:
        await client.files.create(file=("big.txt", b"x" * 1001), purpose="assistants")
    assert caught.value.status_code == 413
    assert caught.value.body["code"] == "file_too_large"  # type: ignore[index]
    assert (await client.files.create(file=("ok.txt", b"x" * 1000), purpose="assistants")).bytes == 1000


async def test_early_refusal_from_content_length_and_counting_a_chunked_body(parley: Parley) -> None:
    huge = await parley.raw.post(
        "/files",
        content=b"",
        headers={"content-type": "multipart/form-data; boundary=x", "content-length": "99999"},
    )
    assert huge.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        for _ in range(100):
            yield b"y" * 1000

    chunked = await parley.raw.post(
        "/files", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert chunked.status_code == 413
    assert chunked.json()["error"]["type"] == "invalid_request_error"


async def test_expired_file_is_gone_from_reads_and_lists(parley: Parley, tmp_path: Path) -> None:
    client = sdk(parley)
    kept = await client.files.create(file=("keep.txt", b"k"), purpose="assistants")
    doomed = await client.files.create(
        file=("soon.txt", b"s"), purpose="assistants", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    assert doomed.expires_at == doomed.created_at + 3600
    with sqlite3.connect(tmp_path / "parley.db") as conn:  # an hour passes
        conn.execute("UPDATE files SET expires_at = 1 WHERE id = ?", (doomed.id,))
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve(doomed.id)
    with pytest.raises(openai.NotFoundError):
        await client.files.content(doomed.id)
    assert [f.id for f in (await client.files.list()).data] == [kept.id]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"purpose": "nonsense"}, "purpose"),
        ({}, "purpose"),
        ({"purpose": "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "5"},
         "expires_after.seconds"),
        ({"purpose": "assistants", "expires_after[anchor]": "now", "expires_after[seconds]": "3600"},
         "expires_after.anchor"),
    ],
)  # fmt: skip
async def test_bad_upload_fields_are_400_naming_the_param(
    parley: Parley, fields: dict[str, str], param: str
) -> None:
    r = await parley.raw.post("/files", data=fields, files={"file": ("a.txt", b"abc")})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


async def test_upload_without_a_file_or_multipart_is_400(parley: Parley) -> None:
    missing = await parley.raw.post("/files", data={"purpose": "assistants"}, files={"other": ("a", b"x")})
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "file"
    not_multipart = await parley.raw.post("/files", json={"purpose": "assistants"})
    assert not_multipart.status_code == 400
    bad_limit = await parley.raw.get("/files", params={"limit": "10001"})
    assert bad_limit.status_code == 400

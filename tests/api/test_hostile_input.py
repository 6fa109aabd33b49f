"""Input written to break things: every piece is a clear 4xx or is handled as data, never a 5xx,
and what was stored before is still there afterwards."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from parley.errors import InvalidRequest
from parley.wire.nesting import MAX_DEPTH, check_depth
from tests.conftest import Harness

Json = dict[str, Any]
SQLISH = ["'; DROP TABLE responses; --", "' OR '1'='1", '" OR ""="', "1; SELECT * FROM files", "%_\\"]
UNICODE = "héllo 👋 עברית مرحبا \u202e\u0301 \u0000 \ufeff \U0001d518\U0001d52b \U0010ffff"


def error_of(r: Any, status: int) -> Json:
    assert r.status_code == status, r.text
    error: Json = r.json()["error"]
    assert error["message"]
    return error


async def test_unicode_is_kept_exactly(harness: Harness) -> None:
    h = harness
    r = await h.create(input=UNICODE, metadata={"ключ 🔑": UNICODE[:60]}, instructions=UNICODE)
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["metadata"] == {"ключ 🔑": UNICODE[:60]}
    items = (await h.client.get(f"/v1/responses/{created['id']}/input_items")).json()["data"]
    assert items[0]["content"][0]["text"] == UNICODE
    sent = h.fake.requests[-1]["messages"]
    assert [m["content"] for m in sent] == [UNICODE, UNICODE]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "fake-model", "input": "\xff\xfe"}',  # not UTF-8
        b'{"model": "fake-model", "input": "\\ud800"}',  # a lone surrogate
        b'{"model": "fake-model", "input": "a", }',
        b"\x00\x01\x02",
        b'"just a string"',
    ],
)
async def test_bodies_that_are_not_json_objects_are_400(harness: Harness, raw: bytes) -> None:
    for path in ("/v1/responses", "/v1/conversations", "/v1/vector_stores", "/v1/chat/completions"):
        r = await harness.client.post(path, content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400, (path, r.text)


async def test_huge_strings_are_refused_or_handled(harness: Harness) -> None:
    h = harness
    big = "x" * 2_000_000
    assert (await h.create(input=big)).status_code == 200
    error = error_of(await h.create(input="hi", metadata={"k": big}), 400)
    assert error["param"] == "metadata.k"
    error = error_of(await h.create(input="hi", metadata={big: "v"}), 400)
    assert "metadata" in error["param"]
    assert (await h.create(model="m" * 100_000, input="hi")).status_code < 500
    r = await h.client.post("/v1/conversations", json={"metadata": {"k" * 10_000: "v"}})
    assert error_of(r, 400)["param"] == f"metadata.{'k' * 10_000}"
    r = await h.client.post("/v1/vector_stores", json={"name": big})
    assert r.status_code in (200, 400), r.text
    r = await h.client.get("/v1/responses", params={"after": big[:20_000]})
    assert r.status_code in (200, 400, 404), r.text


def nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_deeply_nested_json_is_refused_or_handled(harness: Harness) -> None:
    h = harness
    deep = b'{"model": "fake-model", "input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = await h.client.post("/v1/responses", content=deep, headers={"content-type": "application/json"})
    assert error_of(r, 400)["code"] == "invalid_json"
    for depth, status in ((100, 200), (130, 400), (300, 400), (900, 400)):
        parameters = {"type": "object", "properties": {"q": nested(depth, {"type": "string"})}}
        tool = {"type": "function", "name": "lookup", "parameters": parameters}
        r = await h.create(input="hi", tools=[tool])
        assert r.status_code == status, (depth, r.text)
        if status == 200:  # stored, and read back whole
            stored = await h.client.get(f"/v1/responses/{r.json()['id']}")
            assert stored.json()["tools"][0]["parameters"] == parameters
        r = await h.create(input="hi", text={"format": {"type": "json_schema", "name": "n",
                                                        "schema": nested(depth, {})}})  # fmt: skip
        assert r.status_code == status, (depth, r.text)
        r = await h.client.post("/v1/conversations", json={"metadata": nested(depth)})
        assert error_of(r, 400)["param"] == ("metadata.a" if status == 200 else None)
        r = await h.client.post("/v1/vector_stores", json={"metadata": {"k": "v"}, "x": nested(depth)})
        assert r.status_code == status, (depth, r.text)
    assert (await h.create(input="still here")).status_code == 200


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("data:image/png;base64,!!!not base64!!!", "invalid base64-encoded bytes"),
        ("data:image/png;base64,iVBORw0KGgo", "invalid base64-encoded bytes"),  # padding cut off
        ("data:image/png;base64,", "empty base64-encoded bytes"),
        ("data:text/plain;base64,iVBORw0KGgo=", "unsupported MIME type 'text/plain'"),
        ("data:image/png,iVBORw0KGgo=", "a data URL that is not base64-encoded"),
        ("data:", "a data URL that is not base64-encoded"),
    ],
)
async def test_invalid_base64_images_are_400_naming_it(harness: Harness, url: str, problem: str) -> None:
    content = [{"type": "input_text", "text": "what is this?"}, {"type": "input_image", "image_url": url}]
    r = await harness.create(input=[{"role": "user", "content": content}])
    error = error_of(r, 400)
    assert error["param"] == "input[0].content[1].image_url"
    assert "Expected a base64-encoded data URL with an image MIME type" in error["message"]
    assert error["message"].endswith(f"but got {problem}.")
    item = {"type": "message", "role": "user", "content": content}
    r = await harness.client.post("/v1/conversations", json={"items": [item]})
    assert error_of(r, 400)["param"] == "items[0].content[1].image_url"
    assert harness.fake.requests == []


@pytest.mark.parametrize("url", ["data:image/png;base64,iVBORw0KGgo=", "https://example.com/cat.png"])
async def test_a_valid_image_url_passes(harness: Harness, url: str) -> None:
    content = [{"type": "input_image", "image_url": url}, {"type": "input_text", "text": "hi"}]
    r = await harness.create(input=[{"role": "user", "content": content}])
    assert r.status_code == 200, r.text
    [message] = harness.fake.requests[-1]["messages"]
    assert message["content"][0]["image_url"]["url"] == url


PATH_LIKE = {
    "../../../etc/passwd": "passwd",
    "..\\..\\windows\\win.ini": "win.ini",
    "/etc/shadow": "shadow",
    "a/b/../c.txt": "c.txt",
    "名前/レポート.txt": "レポート.txt",
    "": None,  # an empty filename makes the part a text field
    "nul\x00byte.txt": None,
}


async def test_path_like_file_names_are_only_names(harness: Harness, tmp_path: Path) -> None:
    h = harness
    before = {p for p in tmp_path.parent.rglob("*") if not p.is_relative_to(tmp_path)}
    for raw, shown in PATH_LIKE.items():
        files = {"file": (raw, b"secret data", "text/plain")}
        r = await h.client.post("/v1/files", files=files, data={"purpose": "assistants"})
        if shown is None:
            assert r.status_code in (200, 400), r.text
            continue
        assert r.status_code == 200, (raw, r.text)
        record = r.json()
        assert record["filename"] == shown
        content = await h.client.get(f"/v1/files/{record['id']}/content")
        assert content.content == b"secret data"
    after = {p for p in tmp_path.parent.rglob("*") if not p.is_relative_to(tmp_path)}
    assert after == before  # nothing written outside the data dir
    r = await h.client.get("/v1/files/..%2F..%2Fetc%2Fpasswd/content")
    assert r.status_code == 404


async def _completed(h: Harness, store_id: str, file_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = (await h.client.get(f"/v1/vector_stores/{store_id}/files/{file_id}")).json()
        if found["status"] != "in_progress":
            assert found["status"] == "completed", found
            return
        await asyncio.sleep(0.02)
    raise AssertionError("ingestion did not finish")


async def test_sql_ish_strings_are_data(harness: Harness) -> None:
    h = harness
    for text in SQLISH:
        r = await h.create(input=text, metadata={"q": text})
        assert r.status_code == 200, r.text
        assert r.json()["metadata"] == {"q": text}
        assert (await h.client.get("/v1/responses", params={"after": text})).status_code in (200, 400, 404)
        assert (await h.client.get(f"/v1/responses/{text}")).status_code == 404
        assert (await h.client.get(f"/v1/conversations/{text}/items")).status_code == 404
    listed = (await h.client.get("/v1/responses", params={"limit": 100})).json()["data"]
    assert [r["metadata"]["q"] for r in listed] == SQLISH[::-1]


async def test_sql_ish_filters_and_attributes_are_data(harness: Harness) -> None:
    h = harness
    files = {"file": ("a.txt", b"Solar panels in Spain grew twelve percent.", "text/plain")}
    file_id = (await h.client.post("/v1/files", files=files, data={"purpose": "assistants"})).json()["id"]
    store_id = (await h.client.post("/v1/vector_stores", json={"name": SQLISH[0]})).json()["id"]
    attributes = {"team": SQLISH[0], "note": SQLISH[1]}
    body = {"file_id": file_id, "attributes": attributes}
    assert (await h.client.post(f"/v1/vector_stores/{store_id}/files", json=body)).status_code == 200
    await _completed(h, store_id, file_id)
    search = f"/v1/vector_stores/{store_id}/search"

    async def hits(filters: Json) -> list[str]:
        r = await h.client.post(search, json={"query": "solar", "filters": filters})
        assert r.status_code in (200, 400), r.text
        return [hit["file_id"] for hit in r.json().get("data", [])]

    assert await hits({"type": "eq", "key": "team", "value": SQLISH[0]}) == [file_id]
    for text in SQLISH:
        assert await hits({"type": "eq", "key": "team", "value": text[:-1]}) == []
        assert await hits({"type": "eq", "key": text, "value": "x"}) == []
        assert await hits({"type": "in", "key": "note", "value": [text, 1]}) == (
            [file_id] if text == SQLISH[1] else []
        )
    assert await hits({"type": "ne", "key": "team", "value": "' OR 1=1 --"}) == [file_id]
    listed = await h.client.get(f"/v1/vector_stores/{store_id}/files")
    assert [f["attributes"] for f in listed.json()["data"]] == [attributes]


async def test_numbers_sqlite_cannot_hold_and_odd_digits_are_400(harness: Harness) -> None:
    h = harness
    made = await h.client.post("/v1/prompts", json={"prompt": "Be {{tone}}.", "variables": ["tone"]})
    prompt_id = made.json()["prompt_id"]
    for version in ("37333157609487206063276032", "²", "\u0661"):
        r = await h.client.get(f"/v1/prompts/{prompt_id}", params={"version": version})
        assert error_of(r, 400)["param"] == "version"
    r = await h.client.post(f"/v1/prompts/{prompt_id}/set-default-version", json={"version": 2**70})
    assert error_of(r, 400)["param"] == "version"
    r = await h.create(input="hi", prompt={"id": prompt_id, "version": str(2**70)})
    assert error_of(r, 400)["param"] == "prompt.version"
    response_id = (await h.create(input="hi", background=True)).json()["id"]
    for after in (str(2**64), "--5", "²"):
        query = {"stream": "true", "starting_after": after}
        r = await h.client.get(f"/v1/responses/{response_id}", params=query)
        assert error_of(r, 400)["param"] == "starting_after"
    files = {"file": ("a.txt", b"x", "text/plain")}
    form = {"purpose": "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "³⁶⁰⁰"}
    r = await h.client.post("/v1/files", files=files, data=form)
    assert error_of(r, 400)["param"] == "expires_after.seconds"


@pytest.mark.parametrize("as_text", [False, True])
def test_nesting_is_measured_in_text_and_bytes(as_text: bool) -> None:
    """What a WebSocket message (text) and an HTTP body (bytes) go through."""
    for depth, refused in ((MAX_DEPTH, False), (MAX_DEPTH + 1, True)):
        value = nested(depth - 1, [])  # the innermost [] is a level too
        raw = json.dumps(value)
        if refused:
            with pytest.raises(InvalidRequest, match="nested too deeply"):
                check_depth(raw if as_text else raw.encode(), value)
        else:
            check_depth(raw if as_text else raw.encode(), value)
    check_depth("[" * 1000 + "]" * 1000 if as_text else b"[]", [])  # brackets in strings are not levels

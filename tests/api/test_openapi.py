"""``/openapi.json`` names every route Parley serves, and live answers match what it says of them;
``/docs`` renders it with nothing fetched from elsewhere."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from jsonschema import ValidationError
from starlette.routing import Route, WebSocketRoute

from parley.api.openapi import document
from parley.app import ROUTES
from tests.api.openapi_support import answer_schema, check, check_events, validate
from tests.conftest import Harness

Json = dict[str, Any]


def served() -> set[str]:
    """``METHOD /path`` of every route the app serves (``WEBSOCKET /path`` for a socket)."""
    found = set()
    for route in ROUTES:
        assert isinstance(route, Route | WebSocketRoute)
        if isinstance(route, WebSocketRoute):
            found.add(f"WEBSOCKET {route.path}")
            continue
        found |= {f"{method} {route.path}" for method in (route.methods or {"GET"}) - {"HEAD"}}
    return found


def test_the_document_names_exactly_the_routes_served() -> None:
    documented = {
        "WEBSOCKET " + path if method == "x-websocket" else f"{method.upper()} {path}"
        for path, item in document()["paths"].items()
        for method in item
    }
    assert served() - documented == set()  # a route nobody documented
    assert documented - served() == set()  # a documented route that is gone


async def test_the_document_is_served_and_names_its_bodies(harness: Harness) -> None:
    r = await harness.client.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    schemas = doc["components"]["schemas"]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', r.text))
    assert refs - set(schemas) == set()  # every $ref lands on a schema
    create = doc["paths"]["/v1/responses"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CreateResponseRequest"
    )
    assert "text/event-stream" in create["responses"]["200"]["content"]


async def test_docs_page_is_self_contained(harness: Harness) -> None:
    r = await harness.client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "/v1/responses/{response_id}/input_items" in page
    assert 'id="schema-CreateResponseRequest"' in page
    assert "<script" not in page
    assert re.findall(r'(?:src|href)="(?!#|/openapi\.json)[^"]*"', page) == []


def test_a_wrong_answer_fails_validation() -> None:
    """The check used below can fail: a response missing its ``output`` does not pass."""
    with pytest.raises(ValidationError):
        validate({"id": "resp_1", "object": "response"}, answer_schema("post", "/v1/responses", 200))


async def test_response_answers_match_the_document(harness: Harness) -> None:
    h = harness
    created = check(await h.create(input="hello", metadata={"k": "v"}), "post", "/v1/responses")
    rid = created["id"]
    stream = await h.create(input="hi", stream=True)
    events = check_events(stream, "post", "/v1/responses")
    assert events[-1]["type"] == "response.completed"
    check(await h.client.get(f"/v1/responses/{rid}"), "get", "/v1/responses/{response_id}")
    check(await h.client.get("/v1/responses"), "get", "/v1/responses")
    items = check(await h.client.get(f"/v1/responses/{rid}/input_items"), "get",
                  "/v1/responses/{response_id}/input_items")  # fmt: skip
    assert items["data"]
    check(await h.client.delete(f"/v1/responses/{rid}"), "delete", "/v1/responses/{response_id}")
    missing = await h.client.get(f"/v1/responses/{rid}")
    assert missing.status_code == 404
    check(missing, "get", "/v1/responses/{response_id}")
    bad = await h.create(input="x", temperature=9)
    assert bad.status_code == 400
    check(bad, "post", "/v1/responses")
    check(await h.client.get("/health"), "get", "/health")


async def test_conversation_answers_match_the_document(harness: Harness) -> None:
    h = harness
    item = {"type": "message", "role": "user", "content": "hello"}
    made = await h.client.post("/v1/conversations", json={"items": [item]})
    conv = check(made, "post", "/v1/conversations")
    path = "/v1/conversations/{conversation_id}"
    cid = conv["id"]
    check(await h.client.get(f"/v1/conversations/{cid}"), "get", path)
    check(await h.create(input="next", conversation=cid), "post", "/v1/responses")
    listed = check(await h.client.get(f"/v1/conversations/{cid}/items"), "get", f"{path}/items")
    assert len(listed["data"]) == 3
    added = await h.client.post(f"/v1/conversations/{cid}/items", json={"items": [item]})
    check(added, "post", f"{path}/items")
    item_id = listed["data"][0]["id"]
    check(await h.client.get(f"/v1/conversations/{cid}/items/{item_id}"), "get", f"{path}/items/{{item_id}}")
    check(await h.client.delete(f"/v1/conversations/{cid}"), "delete", path)


async def test_prompt_answers_match_the_document(harness: Harness) -> None:
    h = harness
    made = await h.client.post("/v1/prompts", json={"prompt": "Be {{tone}}.", "variables": ["tone"]})
    prompt = check(made, "post", "/v1/prompts")
    check(await h.client.get("/v1/prompts"), "get", "/v1/prompts")
    path = "/v1/prompts/{prompt_id}"
    pid = prompt["prompt_id"]
    update = {"prompt": "Be very {{tone}}.", "variables": ["tone"], "version": 1}
    check(await h.client.put(f"/v1/prompts/{pid}", json=update), "put", path)
    check(await h.client.get(f"/v1/prompts/{pid}/versions"), "get", f"{path}/versions")
    assert (await h.client.delete(f"/v1/prompts/{pid}")).status_code == 204


async def _ingested(h: Harness, store_id: str, file_id: str) -> Json:
    deadline = time.monotonic() + 60
    while True:
        r = await h.client.get(f"/v1/vector_stores/{store_id}/files/{file_id}")
        found: Json = check(r, "get", "/v1/vector_stores/{vector_store_id}/files/{file_id}")
        if found["status"] != "in_progress" or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.02)


async def test_file_and_vector_store_answers_match_the_document(harness: Harness) -> None:
    h = harness
    files = {"file": ("notes.txt", b"Solar panels in Spain grew twelve percent.", "text/plain")}
    upload = await h.client.post("/v1/files", files=files, data={"purpose": "assistants"})
    fid = check(upload, "post", "/v1/files")["id"]
    check(await h.client.get("/v1/files"), "get", "/v1/files")
    check(await h.client.get(f"/v1/files/{fid}"), "get", "/v1/files/{file_id}")
    store = check(await h.client.post("/v1/vector_stores", json={"name": "s"}), "post", "/v1/vector_stores")
    vs, sid = "/v1/vector_stores/{vector_store_id}", store["id"]
    attach = await h.client.post(f"/v1/vector_stores/{sid}/files", json={"file_id": fid})
    check(attach, "post", f"{vs}/files")
    assert (await _ingested(h, sid, fid))["status"] == "completed"
    check(await h.client.get(f"/v1/vector_stores/{sid}/files"), "get", f"{vs}/files")
    content = await h.client.get(f"/v1/vector_stores/{sid}/files/{fid}/content")
    check(content, "get", f"{vs}/files/{{file_id}}/content")
    found = await h.client.post(f"/v1/vector_stores/{sid}/search", json={"query": "solar"})
    assert check(found, "post", f"{vs}/search")["data"]
    batch = await h.client.post(f"/v1/vector_stores/{sid}/file_batches", json={"file_ids": [fid]})
    check(batch, "post", f"{vs}/file_batches")
    check(await h.client.get("/v1/vector_stores"), "get", "/v1/vector_stores")
    check(await h.client.get(f"/v1/vector_stores/{sid}"), "get", vs)
    check(await h.client.delete(f"/v1/vector_stores/{sid}"), "delete", vs)
    check(await h.client.delete(f"/v1/files/{fid}"), "delete", "/v1/files/{file_id}")


async def test_passthrough_and_compact_answers_match_the_document(harness: Harness) -> None:
    h = harness
    chat = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    check(await h.client.post("/v1/chat/completions", json=chat), "post", "/v1/chat/completions")
    stream = await h.client.post("/v1/chat/completions", json={**chat, "stream": True})
    assert check_events(stream, "post", "/v1/chat/completions")
    for encoding in ("float", "base64"):
        body = {"model": "fake-model", "input": ["a", "b"], "encoding_format": encoding}
        check(await h.client.post("/v1/embeddings", json=body), "post", "/v1/embeddings")
    check(await h.client.get("/v1/models"), "get", "/v1/models")
    compact = {"model": "fake-model", "input": "a long talk"}
    check(await h.client.post("/v1/responses/compact", json=compact), "post", "/v1/responses/compact")

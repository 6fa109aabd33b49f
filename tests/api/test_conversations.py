"""``/v1/conversations`` through the openai SDK and over plain HTTP: round trips, pages, item
shapes, and errors that leave what is stored exactly as it was."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import openai
import pytest
from openai.types.conversations import ConversationItem
from openai.types.responses import EasyInputMessageParam

from tests.api.retrieval_support import Parley, running

MISSING = "conv_does_not_exist"


@pytest.fixture
async def parley(tmp_path: Path) -> AsyncIterator[Parley]:
    async with running(tmp_path) as server:
        yield server


@pytest.fixture
def sdk(parley: Parley) -> openai.AsyncOpenAI:
    assert parley.sdk is not None
    return parley.sdk


def stored(parley: Parley) -> tuple[list[Any], list[Any]]:
    """Every conversation row and item row, read beside the server (WAL lets us)."""
    conn = sqlite3.connect(parley.data_dir / "parley.db")
    try:
        conversations = conn.execute("SELECT * FROM conversations ORDER BY id").fetchall()
        items = conn.execute("SELECT * FROM conversation_items ORDER BY conversation_id, position").fetchall()
    finally:
        conn.close()
    return conversations, items


def user(text: str) -> EasyInputMessageParam:
    return {"type": "message", "role": "user", "content": text}


def text_of(item: ConversationItem) -> str:
    content = item.to_dict()["content"]
    assert isinstance(content, list)
    text: str = content[0]["text"]
    return text


async def test_sdk_round_trip(sdk: openai.AsyncOpenAI) -> None:
    conv = await sdk.conversations.create(items=[user("hi")], metadata={"topic": "demo"})
    assert conv.id.startswith("conv_")
    assert (conv.object, conv.metadata) == ("conversation", {"topic": "demo"})
    assert conv.created_at > 0
    assert await sdk.conversations.retrieve(conv.id) == conv
    updated = await sdk.conversations.update(conv.id, metadata={"topic": "other", "k": "v"})
    assert updated == conv.model_copy(update={"metadata": {"topic": "other", "k": "v"}})

    added = await sdk.conversations.items.create(
        conv.id, items=[{"type": "message", "role": "assistant", "content": "hello"}, user("again")]
    )
    assert (added.object, added.has_more, len(added.data)) == ("list", False, 2)
    assert (added.first_id, added.last_id) == (added.data[0].id, added.data[1].id)
    listed = await sdk.conversations.items.list(conv.id, order="asc")
    assert [text_of(item) for item in listed.data] == ["hi", "hello", "again"]
    second = listed.data[1]
    assert second.id is not None
    assert await sdk.conversations.items.retrieve(second.id, conversation_id=conv.id) == second

    after_delete = await sdk.conversations.items.delete(second.id, conversation_id=conv.id)
    assert after_delete == updated
    remaining = await sdk.conversations.items.list(conv.id)
    assert [item.id for item in remaining.data] == [listed.data[2].id, listed.data[0].id]  # newest first

    deleted = await sdk.conversations.delete(conv.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (conv.id, "conversation.deleted", True)
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.conversations.retrieve(conv.id)
    assert caught.value.body == {
        "message": f"Conversation with id '{conv.id}' not found.",
        "type": "invalid_request_error",
        "param": "conversation_id",
        "code": "not_found",
    }


async def test_create_with_no_body_or_nothing_in_it(parley: Parley, sdk: openai.AsyncOpenAI) -> None:
    bare = await parley.raw.post("/conversations")
    assert bare.status_code == 200
    assert bare.json()["metadata"] == {}
    conv = await sdk.conversations.create()
    assert conv.metadata == {}
    assert (await sdk.conversations.items.list(conv.id)).data == []


async def test_pages_both_ways(parley: Parley, sdk: openai.AsyncOpenAI) -> None:
    conv = await sdk.conversations.create(items=[user(f"m{n}") for n in range(20)])
    await sdk.conversations.items.create(conv.id, items=[user(f"m{n}") for n in range(20, 25)])
    everything = await sdk.conversations.items.list(conv.id, order="asc", limit=100)
    ids = [item.id for item in everything.data]
    assert len(ids) == 25
    assert not everything.has_more
    orders: tuple[tuple[Literal["asc", "desc"], list[str | None]], ...] = (("asc", ids), ("desc", ids[::-1]))
    for order, expected in orders:
        page = await sdk.conversations.items.list(conv.id, order=order, limit=10)
        seen = [item.id for item in page.data]
        assert page.has_more
        while page.has_more:
            assert page.last_id is not None
            assert page.last_id == seen[-1]
            page = await sdk.conversations.items.list(conv.id, order=order, limit=10, after=page.last_id)
            seen += [item.id for item in page.data]
        assert seen == expected
        walked = [item.id async for item in sdk.conversations.items.list(conv.id, order=order, limit=7)]
        assert walked == expected
    default = await sdk.conversations.items.list(conv.id)
    assert [item.id for item in default.data] == ids[::-1][:20]  # desc, 20
    assert default.has_more
    raw = (await parley.raw.get(f"/conversations/{conv.id}/items", params={"limit": 3})).json()
    assert (raw["first_id"], raw["last_id"]) == (ids[24], ids[22])


FILE_SEARCH = {
    "type": "file_search_call",
    "id": "fs_1",
    "queries": ["q"],
    "status": "completed",
    "results": [{"file_id": "file-1", "filename": "a.txt", "score": 0.5, "text": "t", "attributes": {}}],
}


async def test_include_is_accepted_and_shows_hidden_fields(parley: Parley, sdk: openai.AsyncOpenAI) -> None:
    conv = await sdk.conversations.create()
    created = await parley.raw.post(
        f"/conversations/{conv.id}/items",
        params={"include[]": "file_search_call.results"},
        json={"items": [FILE_SEARCH]},
    )
    assert created.status_code == 200
    assert created.json()["data"][0] == FILE_SEARCH
    plain = await sdk.conversations.items.retrieve("fs_1", conversation_id=conv.id)
    assert plain.to_dict()["results"] is None
    full = await sdk.conversations.items.retrieve(
        "fs_1", conversation_id=conv.id, include=["file_search_call.results"]
    )
    assert full.to_dict()["results"] == FILE_SEARCH["results"]
    listed = await sdk.conversations.items.list(
        conv.id, include=["file_search_call.results", "reasoning.encrypted_content"]
    )
    assert listed.data[0].to_dict() == FILE_SEARCH
    more = await sdk.conversations.items.create(
        conv.id, items=[user("later")], include=["message.input_image.image_url"]
    )
    assert text_of(more.data[0]) == "later"


ITEMS: list[tuple[dict[str, Any], str]] = [
    ({"type": "message", "role": "user", "content": "plain string"}, "msg_"),
    ({"role": "developer", "content": "no type given"}, "msg_"),
    (
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "parts"},
                {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "low"},
            ],
        },
        "msg_",
    ),
    ({"type": "message", "role": "assistant", "content": "answer", "phase": "final_answer"}, "msg_"),
    ({"type": "function_call", "call_id": "call_1", "name": "f", "arguments": '{"a": 1}'}, "fc_"),
    ({"type": "function_call_output", "call_id": "call_1", "output": "42"}, "fco_"),
    ({"type": "custom_tool_call", "call_id": "call_2", "name": "grep", "input": "x"}, "ctc_"),
    ({"type": "custom_tool_call_output", "call_id": "call_2", "output": "found"}, "ctco_"),
    ({"type": "reasoning", "summary": [{"type": "summary_text", "text": "thought"}]}, "rs_"),
    (
        {"type": "tool_search_call", "call_id": "call_3", "arguments": {"q": "w"}, "execution": "client"},
        "tsc_",
    ),
    ({"type": "tool_search_output", "call_id": "call_3", "execution": "client", "tools": []}, "tso_"),
    (FILE_SEARCH, "fs_"),
    ({"type": "message", "id": "msg_mine", "role": "user", "content": "kept id", "extra": [1]}, "msg_mine"),
]


def expected_shape(sent: dict[str, Any]) -> dict[str, Any]:
    """What a response stores for this input item: string content as one part, a status."""
    want = {"type": "message", **sent}
    if want["type"] == "message" and isinstance(want["content"], str):
        part = {
            "type": "output_text" if want["role"] == "assistant" else "input_text",
            "text": want["content"],
        }
        want["content"] = [{**part, "annotations": []} if want["role"] == "assistant" else part]
    return {"status": "completed", **want}


@pytest.mark.parametrize(
    ("sent", "prefix"), ITEMS, ids=[f"{i[0].get('type', 'easy')}-{n}" for n, i in enumerate(ITEMS)]
)
async def test_every_item_type_round_trips(parley: Parley, sent: dict[str, Any], prefix: str) -> None:
    conv = (await parley.raw.post("/conversations", json={})).json()["id"]
    include = {"include": "file_search_call.results"}
    created = await parley.raw.post(f"/conversations/{conv}/items", params=include, json={"items": [sent]})
    assert created.status_code == 200, created.text
    item = created.json()["data"][0]
    assert item["id"].startswith(prefix)
    for key, value in expected_shape(sent).items():
        assert item[key] == value, key
    fetched = await parley.raw.get(f"/conversations/{conv}/items/{item['id']}", params=include)
    assert fetched.json() == item
    listed = await parley.raw.get(f"/conversations/{conv}/items", params=include)
    assert listed.json()["data"] == [item]
    in_create = await parley.raw.post("/conversations", json={"items": [sent]})
    conv2 = in_create.json()["id"]
    again = (await parley.raw.get(f"/conversations/{conv2}/items", params=include)).json()["data"]
    assert {**again[0], "id": item["id"]} == item


def many(n: int) -> list[EasyInputMessageParam]:
    return [user(f"m{k}") for k in range(n)]


LONG_KEY = "k" * 65
# (method, path, request kwargs, status, param, code); {conv}/{item} name a stored pair.
ERRORS: list[tuple[str, str, dict[str, Any], int, str | None, str]] = [
    ("GET", f"/conversations/{MISSING}", {}, 404, "conversation_id", "not_found"),
    ("POST", f"/conversations/{MISSING}", {"json": {"metadata": {}}}, 404, "conversation_id", "not_found"),
    ("DELETE", f"/conversations/{MISSING}", {}, 404, "conversation_id", "not_found"),
    (
        "POST",
        f"/conversations/{MISSING}/items",
        {"json": {"items": many(1)}},
        404,
        "conversation_id",
        "not_found",
    ),
    ("GET", f"/conversations/{MISSING}/items", {}, 404, "conversation_id", "not_found"),
    ("GET", f"/conversations/{MISSING}/items/{{item}}", {}, 404, "conversation_id", "not_found"),
    ("DELETE", f"/conversations/{MISSING}/items/{{item}}", {}, 404, "conversation_id", "not_found"),
    ("GET", "/conversations/{conv}/items/msg_nope", {}, 404, "item_id", "not_found"),
    ("DELETE", "/conversations/{conv}/items/msg_nope", {}, 404, "item_id", "not_found"),
    ("POST", "/conversations", {"content": b"{not json"}, 400, None, "invalid_json"),
    ("POST", "/conversations", {"json": [1]}, 400, None, "invalid_json"),
    ("POST", "/conversations/{conv}", {"content": b"{"}, 400, None, "invalid_json"),
    ("POST", "/conversations/{conv}/items", {"content": b""}, 400, None, "invalid_json"),
    ("POST", "/conversations", {"json": {"items": "x"}}, 400, "items", "invalid_type"),
    ("POST", "/conversations", {"json": {"items": many(21)}}, 400, "items", "array_above_max_length"),
    (
        "POST",
        "/conversations/{conv}/items",
        {"json": {"items": many(21)}},
        400,
        "items",
        "array_above_max_length",
    ),
    ("POST", "/conversations/{conv}/items", {"json": {}}, 400, "items", "missing_required_parameter"),
    (
        "POST",
        "/conversations/{conv}/items",
        {"json": {"items": [*many(1), {"type": "bogus"}]}},
        400,
        "items[1].type",
        "invalid_value",
    ),
    (
        "POST",
        "/conversations/{conv}/items",
        {"json": {"items": [{"type": "message", "role": "user"}]}},
        400,
        "items[0].content",
        "missing_required_parameter",
    ),
    (
        "POST",
        "/conversations/{conv}/items",
        {"json": {"items": [{"type": "message", "role": "user", "content": [{"type": "input_text"}]}]}},
        400,
        "items[0].content[0].text",
        "missing_required_parameter",
    ),
    (
        "POST",
        "/conversations/{conv}/items",
        {"json": {"items": [{"type": "function_call", "name": "f", "arguments": "{}"}]}},
        400,
        "items[0].call_id",
        "missing_required_parameter",
    ),
    (
        "POST",
        "/conversations/{conv}/items",
        {"json": {"items": [{"type": "item_reference", "id": "{item}"}]}},
        400,
        "items[0].type",
        "invalid_value",
    ),
    (
        "POST",
        "/conversations/{conv}/items",
        {"json": {"items": [*many(1), 5]}},
        400,
        "items[1]",
        "invalid_type",
    ),
    ("POST", "/conversations", {"json": {"metadata": "x"}}, 400, "metadata", "invalid_type"),
    (
        "POST",
        "/conversations",
        {"json": {"metadata": {f"k{n}": "v" for n in range(17)}}},
        400,
        "metadata",
        "object_above_max_properties",
    ),
    (
        "POST",
        "/conversations",
        {"json": {"metadata": {LONG_KEY: "v"}}},
        400,
        f"metadata.{LONG_KEY}",
        "property_name_above_max_length",
    ),
    (
        "POST",
        "/conversations",
        {"json": {"metadata": {"k": "v" * 513}}},
        400,
        "metadata.k",
        "string_above_max_length",
    ),
    (
        "POST",
        "/conversations",
        {"json": {"items": many(1), "metadata": {"k": 1}}},
        400,
        "metadata.k",
        "invalid_type",
    ),
    ("POST", "/conversations/{conv}", {"json": {}}, 400, "metadata", "missing_required_parameter"),
    ("POST", "/conversations/{conv}", {"json": {"metadata": {"k": None}}}, 400, "metadata.k", "invalid_type"),
    ("GET", "/conversations/{conv}/items", {"params": {"limit": "0"}}, 400, "limit", "invalid_value"),
    ("GET", "/conversations/{conv}/items", {"params": {"limit": "101"}}, 400, "limit", "invalid_value"),
    ("GET", "/conversations/{conv}/items", {"params": {"order": "sideways"}}, 400, "order", "invalid_value"),
    (
        "GET",
        "/conversations/{conv}/items",
        {"params": {"include": "bogus"}},
        400,
        "include[0]",
        "invalid_value",
    ),
    (
        "GET",
        "/conversations/{conv}/items/{item}",
        {"params": {"include[]": "bogus"}},
        400,
        "include[0]",
        "invalid_value",
    ),
    (
        "POST",
        "/conversations/{conv}/items",
        {"params": {"include": "x"}, "json": {"items": many(1)}},
        400,
        "include[0]",
        "invalid_value",
    ),
]


def fill(value: Any, names: dict[str, str]) -> Any:
    """``{conv}`` and ``{item}`` replaced anywhere in a request's JSON, query or path."""
    if isinstance(value, str):
        return value.replace("{conv}", names["conv"]).replace("{item}", names["item"])
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


async def seed(sdk: openai.AsyncOpenAI) -> dict[str, str]:
    conv = await sdk.conversations.create(items=[user("first")], metadata={"topic": "kept"})
    items = await sdk.conversations.items.list(conv.id)
    item_id = items.data[0].id
    assert item_id is not None
    return {"conv": conv.id, "item": item_id}


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "param", "code"), ERRORS)
async def test_errors_name_the_param_and_change_nothing(
    parley: Parley,
    sdk: openai.AsyncOpenAI,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    param: str | None,
    code: str,
) -> None:
    names = await seed(sdk)
    before = stored(parley)
    request = {k: fill(v, names) if k != "content" else v for k, v in kwargs.items()}
    answer = await parley.raw.request(method, fill(path, names), **request)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    assert stored(parley) == before


async def test_not_found_wordings(parley: Parley, sdk: openai.AsyncOpenAI) -> None:
    names = await seed(sdk)
    missing = (await parley.raw.get(f"/conversations/{MISSING}/items")).json()["error"]["message"]
    assert missing == f"Conversation with id '{MISSING}' not found."
    item = await parley.raw.get(f"/conversations/{names['conv']}/items/msg_nope")
    assert item.json()["error"]["message"] == "Item with id 'msg_nope' not found."
    too_many = await parley.raw.post(f"/conversations/{names['conv']}/items", json={"items": many(21)})
    assert too_many.json()["error"]["message"] == (
        "Invalid 'items': array too long. Expected an array with maximum length 20, "
        "but got an array with length 21 instead."
    )


async def test_a_deleted_conversation_is_gone_on_every_route(parley: Parley, sdk: openai.AsyncOpenAI) -> None:
    names = await seed(sdk)
    await sdk.conversations.delete(names["conv"])
    assert stored(parley) == ([], [])
    conv, item = names["conv"], names["item"]
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/conversations/{conv}", {}),
        ("POST", f"/conversations/{conv}", {"json": {"metadata": {"a": "b"}}}),
        ("DELETE", f"/conversations/{conv}", {}),
        ("POST", f"/conversations/{conv}/items", {"json": {"items": many(1)}}),
        ("GET", f"/conversations/{conv}/items", {}),
        ("GET", f"/conversations/{conv}/items/{item}", {}),
        ("DELETE", f"/conversations/{conv}/items/{item}", {}),
    ]
    for method, path, kwargs in calls:
        answer = await parley.raw.request(method, path, **kwargs)
        assert answer.status_code == 404, (method, path)
        assert answer.json()["error"]["message"] == f"Conversation with id '{conv}' not found."
    assert stored(parley) == ([], [])

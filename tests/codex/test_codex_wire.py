"""Every request the Codex CLI 0.169.0 was seen to send, replayed as captured against Parley in-process.

The captures (``captures/``, copied from ``shared/clients/codex-0.169.0``) are whole request bodies and
headers: a first turn with ``gpt-5.5`` (functions, a custom apply_patch tool with a lark grammar,
client-side tool_search, web_search), the two turns after it (echoed reasoning, custom_tool_call and
function_call items with their outputs), and a first turn with ``gpt-5.1-codex-max`` (a namespace tool).
Whatever Codex sends must be answered with a stream the openai SDK's own models accept, item by item.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openai.types.responses import (
    Response,
    ResponseCustomToolCall,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseReasoningItem,
    ResponseToolSearchCall,
)
from pydantic import BaseModel

from parley.config import ProviderConfig
from parley.testing.fake_upstream import Reply, ToolCall
from tests.api.test_responses_basic import parse_sse
from tests.codex.conftest import NO_AGENT, PATCH, SHOW, chat_tools, patch_call, tool_named
from tests.conftest import Harness
from tests.support.wire import check_event

Json = dict[str, Any]
CAPTURES = Path(__file__).parent / "captures"
REQUESTS = sorted(path.name.removesuffix(".request.json") for path in CAPTURES.glob("*.request.json"))
HEADERS: dict[str, str] = json.loads((CAPTURES / "request-headers.json").read_text())
ITEM_MODELS: dict[str, type[BaseModel]] = {
    "message": ResponseOutputMessage,
    "reasoning": ResponseReasoningItem,
    "function_call": ResponseFunctionToolCall,
    "custom_tool_call": ResponseCustomToolCall,
    "tool_search_call": ResponseToolSearchCall,
}


def test_all_captures_are_here() -> None:
    assert REQUESTS == [
        "gpt-5.1-codex-max-turn1",
        "gpt-5.5-turn1",
        "gpt-5.5-turn2",
        "gpt-5.5-turn3",
    ]


def every_call(body: Json) -> Reply:
    """Reasoning, text, and a call of every kind the request offers, all in one answer."""
    tools = chat_tools(body)
    exec_name = tool_named(tools, "exec_command")
    assert exec_name is not None
    calls = [patch_call(tools, exec_name), ToolCall(exec_name, json.dumps({"cmd": SHOW}))]
    close_agent = tool_named(tools, "close_agent")
    if close_agent is not None and close_agent != "close_agent":
        calls.append(ToolCall(close_agent, json.dumps({"target": NO_AGENT})))
    if "tool_search" in tools:
        calls.append(ToolCall("tool_search", json.dumps({"query": "deploy", "limit": 2})))
    return Reply(reasoning="Planning the change.", text="On it.", tool_calls=calls)


def check_item(item: Json) -> None:
    model = ITEM_MODELS.get(item["type"])
    assert model is not None, f"unexpected output item type {item['type']!r}"
    model.model_validate(item)


@pytest.mark.parametrize("native", [True, False], ids=["native", "fallback"])
@pytest.mark.parametrize("capture", REQUESTS)
async def test_captured_request_streams_what_the_sdk_parses(
    capture: str, native: bool, harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    body = json.loads((CAPTURES / f"{capture}.request.json").read_text())
    capabilities = {"native_custom_tools": native}
    provider = ProviderConfig("default", "http://upstream.test/v1", capabilities=capabilities)
    h = harness_factory(every_call, providers=(provider,))
    r = await h.client.post("/v1/responses", json=body, headers=HEADERS)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.content)
    for event in events:
        check_event(event)
        if "item" in event:
            check_item(event["item"])
    assert events[-1]["type"] == "response.completed", events[-1]
    response = events[-1]["response"]
    Response.model_validate(response)
    assert response["model"] == body["model"]
    assert response["store"] is False
    output = response["output"]
    for item in output:
        check_item(item)

    kinds = [item["type"] for item in output]
    if capture.startswith("gpt-5.5"):
        assert kinds == [
            "reasoning",
            "message",
            "custom_tool_call",
            "function_call",
            "tool_search_call",
        ]
        patch = output[2]
        assert (patch["name"], patch["input"]) == ("apply_patch", PATCH)
        assert output[4]["execution"] == "client"
        assert output[4]["arguments"] == {"query": "deploy", "limit": 2}
    else:  # no apply_patch tool: a patch through exec_command, then a call into the namespace
        assert kinds == ["reasoning", "message", "function_call", "function_call", "function_call"]
        member = output[4]
        assert (member["namespace"], member["name"]) == ("multi_agent_v1", "close_agent")
    assert output[1]["content"][0]["text"] == "On it."
    assert output[0]["encrypted_content"]  # include: ["reasoning.encrypted_content"], store: false
    call_ids = [item["call_id"] for item in output[2:]]
    assert len(set(call_ids)) == len(call_ids)
    assert all(call_ids)

    sent = h.fake.requests[0]
    assert sent["model"] == body["model"]
    offered = chat_tools(sent)
    assert offered["exec_command"]["type"] == "function"
    if "apply_patch" in offered:
        assert offered["apply_patch"]["type"] == ("custom" if native else "function")
    check_history(body["input"], sent["messages"], native)
    with contextlib.closing(sqlite3.connect(tmp_path / "parley.db")) as db:
        assert db.execute("SELECT count(*) FROM responses").fetchone() == (0,)


def check_history(items: list[Json], messages: list[Json], native: bool) -> None:
    """The calls Codex echoed went upstream as assistant tool calls, their outputs as tool messages."""
    calls = {c["id"]: c for m in messages if m["role"] == "assistant" for c in m.get("tool_calls") or []}
    results = {m["tool_call_id"]: m["content"] for m in messages if m["role"] == "tool"}
    echoed = [item for item in items if item["type"] in ("custom_tool_call", "function_call")]
    assert set(calls) == {item["call_id"] for item in echoed}
    for item in echoed:
        call = calls[item["call_id"]]
        if item["type"] == "custom_tool_call" and native:
            assert call == {
                "id": item["call_id"],
                "type": "custom",
                "custom": {"name": item["name"], "input": item["input"]},
            }
        elif item["type"] == "custom_tool_call":
            assert call["function"]["name"] == item["name"]
            assert json.loads(call["function"]["arguments"]) == {"input": item["input"]}
        else:
            assert call["function"] == {"name": item["name"], "arguments": item["arguments"]}
    outputs = [item for item in items if item["type"].endswith("_call_output")]
    assert results == {item["call_id"]: item["output"] for item in outputs}

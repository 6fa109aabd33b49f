"""Custom, namespace and tool_search tools, and sealed reasoning for stateless clients (the Codex CLI)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import orjson
from openai.types.responses import ResponseCustomToolCall, ResponseFunctionToolCall, ResponseToolSearchCall

from parley.config import ProviderConfig
from parley.sealing import PREFIX
from parley.testing.fake_upstream import Reply, ToolCall
from tests.api.test_responses_basic import parse_sse
from tests.conftest import HARNESS_BACKEND, Harness
from tests.support.wire import check_event

PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello parley\n*** End Patch\n"
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/s"},
}
EXEC = {
    "type": "function",
    "name": "exec_command",
    "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
}


def offered(h: Harness, index: int = -1) -> dict[str, dict[str, Any]]:
    """The tools the provider was offered on a request, by chat name."""
    return {t["function"]["name"]: t for t in h.fake.requests[index].get("tools", [])}


async def stream(h: Harness, **body: Any) -> list[dict[str, Any]]:
    r = await h.create(stream=True, **body)
    assert r.status_code == 200, r.text
    events = parse_sse(r.content)
    for event in events:
        check_event(event)
    return events


async def test_custom_tool_through_the_function_fallback(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(
        [
            Reply(tool_calls=[ToolCall("apply_patch", orjson.dumps({"input": PATCH}).decode(), "c1")]),
            Reply(text="Done."),
        ]
    )
    events = await stream(h, input="create hello.txt", tools=[APPLY_PATCH, EXEC], store=False)
    tool = offered(h)["apply_patch"]["function"]
    assert tool["parameters"]["properties"] == {"input": {"type": "string"}}
    assert "lark grammar" in tool["description"]
    assert "start: /.+/s" in tool["description"]
    call = events[-1]["response"]["output"][0]
    ResponseCustomToolCall.model_validate(call)
    assert call["input"] == PATCH
    assert call["call_id"] == "c1"
    kinds = [e["type"] for e in events]
    assert "response.custom_tool_call_input.delta" in kinds
    assert next(e for e in events if e["type"] == "response.custom_tool_call_input.done")["input"] == PATCH
    r = await h.create(
        store=False,
        tools=[APPLY_PATCH, EXEC],
        input=[
            {"role": "user", "content": "create hello.txt"},
            call,
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "Success."},
        ],
    )
    assert r.status_code == 200, r.text
    assert h.fake.requests[1]["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "apply_patch", "arguments": json.dumps({"input": PATCH})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "Success."},
    ]


async def test_namespace_members_get_collision_free_names(harness_factory: Callable[..., Harness]) -> None:
    namespace = {
        "type": "namespace",
        "name": "multi_agent_v1",
        "description": "Sub-agents.",
        "tools": [
            {"type": "function", "name": "spawn_agent", "parameters": {"type": "object", "properties": {}}},
            {"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}},
        ],
    }
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("multi_agent_v1__spawn_agent", "{}", "c1")]), Reply(text="ok")]
    )
    first = (await h.create(input="spawn", tools=[EXEC, namespace])).json()
    assert set(offered(h)) == {"exec_command", "multi_agent_v1__spawn_agent", "multi_agent_v1__exec_command"}
    [call] = first["output"]
    ResponseFunctionToolCall.model_validate(call)
    assert (call["name"], call["namespace"]) == ("spawn_agent", "multi_agent_v1")
    await h.create(
        previous_response_id=first["id"],
        tools=[EXEC, namespace],
        input=[{"type": "function_call_output", "call_id": "c1", "output": "spawned"}],
    )
    sent = h.fake.requests[1]["messages"][1]["tool_calls"][0]["function"]["name"]
    assert sent == "multi_agent_v1__spawn_agent"


async def test_client_tool_search_loads_deferred_tools(harness_factory: Callable[..., Harness]) -> None:
    deferred = {**EXEC, "name": "deploy", "description": "Deploy the app.", "defer_loading": True}
    search = {
        "type": "tool_search",
        "execution": "client",
        "description": "Find tools.",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("tool_search", '{"q": "deploy"}', "s1")]), Reply(text="ok")]
    )
    first = (await h.create(input="deploy it", tools=[EXEC, deferred, search], store=False)).json()
    assert set(offered(h)) == {"exec_command", "tool_search"}
    [call] = first["output"]
    ResponseToolSearchCall.model_validate(call)
    assert call["arguments"] == {"q": "deploy"}
    assert call["execution"] == "client"
    output = {
        "type": "tool_search_output",
        "call_id": "s1",
        "execution": "client",
        "tools": [{"type": "function", "name": "deploy", "description": "Deploy the app."}],
    }
    r = await h.create(
        input=[{"role": "user", "content": "deploy it"}, call, output],
        tools=[EXEC, deferred, search],
        store=False,
    )
    assert r.status_code == 200, r.text
    assert set(offered(h)) == {"exec_command", "tool_search", "deploy"}
    assert h.fake.requests[1]["messages"][2]["role"] == "tool"


async def test_sealed_reasoning_round_trip(harness_factory: Callable[..., Harness], tmp_path: Any) -> None:
    h = harness_factory(
        [
            Reply(
                reasoning="The user wants a file.",
                tool_calls=[ToolCall("exec_command", '{"cmd": "ls"}', "c1")],
            ),
            Reply(text="Listed."),
        ]
    )
    events = await stream(
        h, input="list files", tools=[EXEC], store=False, include=["reasoning.encrypted_content"]
    )
    reasoning, call = events[-1]["response"]["output"]
    sealed = reasoning["encrypted_content"]
    assert sealed.startswith(PREFIX)
    assert "The user wants a file." not in sealed
    echoed = {
        "type": "reasoning",
        "id": reasoning["id"],
        "summary": [],
        "content": None,
        "encrypted_content": sealed,
    }
    r = await h.create(
        store=False,
        tools=[EXEC],
        input=[
            {"role": "user", "content": "list files"},
            echoed,
            call,
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
        ],
    )
    assert r.status_code == 200, r.text
    assistant = h.fake.requests[1]["messages"][1]
    assert assistant["reasoning_content"] == "The user wants a file."
    assert (await h.client.get("/v1/responses")).json()["data"] == []  # store=False: nothing kept
    if HARNESS_BACKEND == "sqlite":
        with sqlite3.connect(tmp_path / "parley.db") as db:
            assert db.execute("SELECT count(*) FROM responses").fetchone() == (0,)
            assert db.execute("SELECT count(*) FROM response_items").fetchone() == (0,)


async def test_tampered_reasoning_is_a_400_naming_the_item(harness: Harness) -> None:
    await harness.app.state.deps.sealer.start()  # over PostgreSQL, the key is fetched from it
    sealed = harness.app.state.deps.sealer.seal("secret plan")
    tampered = sealed[:-6] + ("AAAAAA" if not sealed.endswith("AAAAAA") else "BBBBBB")
    r = await harness.create(
        store=False,
        input=[
            {"role": "user", "content": "hi"},
            {"type": "reasoning", "summary": [], "encrypted_content": tampered},
        ],
    )
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "input[1].encrypted_content"


async def test_foreign_reasoning_is_skipped(harness: Harness) -> None:
    r = await harness.create(
        store=False,
        input=[
            {"role": "user", "content": "hi"},
            {
                "type": "reasoning",
                "id": "rs_openai",
                "summary": [],
                "encrypted_content": "gAAAAABo-opaque-openai-blob",
            },
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "again"},
        ],
    )
    assert r.status_code == 200, r.text
    assert harness.fake.requests[0]["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "again"},
    ]


async def test_hosted_tool_search_finds_and_loads_deferred_tools(
    harness_factory: Callable[..., Harness],
) -> None:
    namespace = {
        "type": "namespace",
        "name": "ops",
        "description": "Operations.",
        "tools": [
            {
                **EXEC,
                "name": "deploy",
                "description": "Deploy the application to production.",
                "defer_loading": True,
            },
            {**EXEC, "name": "rollback", "description": "Roll back a release.", "defer_loading": True},
        ],
    }
    weather = {
        **EXEC,
        "name": "get_weather",
        "description": "Current weather for a city.",
        "defer_loading": True,
    }
    h = harness_factory(
        [
            Reply(tool_calls=[ToolCall("tool_search", '{"query": "deploy to production"}', "s1")]),
            Reply(tool_calls=[ToolCall("ops__deploy", '{"cmd": "ship"}', "c1")]),
        ]
    )
    events = await stream(h, input="ship it", tools=[EXEC, namespace, weather, {"type": "tool_search"}])
    output = events[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["tool_search_call", "tool_search_output", "function_call"]
    search, found, call = output
    assert search["execution"] == "server"
    assert found["tools"][0]["type"] == "namespace"
    assert [t["name"] for t in found["tools"][0]["tools"]] == ["deploy"]
    assert (call["name"], call["namespace"]) == ("deploy", "ops")
    assert set(offered(h, 0)) == {"exec_command", "tool_search"}
    assert set(offered(h, 1)) == {"exec_command", "tool_search", "ops__deploy"}
    tool_message = h.fake.requests[1]["messages"][-1]
    assert json.loads(tool_message["content"]) == {
        "loaded_tools": [{"name": "ops__deploy", "description": "Deploy the application to production."}]
    }
    assert events[-1]["response"]["usage"]["input_tokens"] > 0


async def test_usage_is_summed_over_model_calls_and_max_tool_calls_stops(
    harness_factory: Callable[..., Harness],
) -> None:
    deferred = {**EXEC, "name": "deploy", "description": "Deploy.", "defer_loading": True}
    search_call = ToolCall("tool_search", '{"query": "deploy"}')
    h = harness_factory(
        [
            Reply(tool_calls=[search_call], prompt_tokens=10, completion_tokens=2, cached_tokens=4),
            Reply(text="Deployed.", prompt_tokens=20, completion_tokens=3, reasoning_tokens=1),
            Reply(tool_calls=[search_call]),
            Reply(tool_calls=[search_call]),
        ]
    )
    done = (await h.create(input="ship", tools=[deferred, {"type": "tool_search"}])).json()
    assert done["usage"] == {
        "input_tokens": 30,
        "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 1},
        "total_tokens": 35,
    }
    limited = (
        await h.create(input="ship", tools=[deferred, {"type": "tool_search"}], max_tool_calls=1)
    ).json()
    assert limited["status"] == "incomplete"
    assert limited["incomplete_details"] == {"reason": "max_tool_calls"}
    # The call past the limit is never run, so it is not in the output either.
    assert [i["type"] for i in limited["output"]] == ["tool_search_call", "tool_search_output"]


async def test_custom_tool_sent_natively(harness_factory: Callable[..., Harness]) -> None:
    capabilities = {"native_custom_tools": True}
    native = {"providers": (ProviderConfig("default", "http://upstream.test/v1", capabilities=capabilities),)}
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("apply_patch", PATCH, "c1", kind="custom")]), Reply(text="ok")], **native
    )
    events = await stream(
        h,
        input="create hello.txt",
        tools=[APPLY_PATCH, EXEC],
        tool_choice={"type": "custom", "name": "apply_patch"},
    )
    sent = h.fake.requests[0]
    assert sent["tools"][0] == {
        "type": "custom",
        "custom": {
            "name": "apply_patch",
            "description": "Edit files.",
            "format": {"type": "grammar", "grammar": {"syntax": "lark", "definition": "start: /.+/s"}},
        },
    }
    assert sent["tool_choice"] == {"type": "custom", "custom": {"name": "apply_patch"}}
    deltas = [e["delta"] for e in events if e["type"] == "response.custom_tool_call_input.delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == PATCH
    call = events[-1]["response"]["output"][0]
    assert call["input"] == PATCH
    await h.create(
        previous_response_id=events[-1]["response"]["id"],
        tools=[APPLY_PATCH, EXEC],
        input=[{"type": "custom_tool_call_output", "call_id": "c1", "output": "Done."}],
    )
    assert h.fake.requests[1]["messages"][1]["tool_calls"] == [
        {"id": "c1", "type": "custom", "custom": {"name": "apply_patch", "input": PATCH}}
    ]


async def test_text_format_custom_tool_and_unknown_outputs(harness_factory: Callable[..., Harness]) -> None:
    free = {"type": "custom", "name": "note", "description": "Write a note.", "format": {"type": "text"}}
    h = harness_factory([Reply(text="ok")])
    r = await h.create(input="hi", tools=[free])
    assert r.status_code == 200, r.text
    assert "free-form" in offered(h)["note"]["function"]["description"]
    orphan = await h.create(input=[{"type": "custom_tool_call_output", "call_id": "nope", "output": "x"}])
    assert orphan.status_code == 400
    assert orphan.json()["error"]["param"] == "input[0].call_id"

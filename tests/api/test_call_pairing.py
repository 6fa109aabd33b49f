"""Calls the caller runs must each get their output: OpenAI's 400 "No tool output found for function
call <call_id>." (param ``input``), before the provider is asked anything, whether the call is in
the input, ends the ``previous_response_id`` chain, or ends the conversation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parley.testing.fake_upstream import Reply, ToolCall
from tests.api.test_errors import assert_error
from tests.conftest import Harness

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PATCH = {"type": "custom", "name": "apply_patch", "description": "Edit files."}
TWO_CALLS = Reply(
    tool_calls=[
        ToolCall("get_weather", '{"city": "Paris"}', "c1"),
        ToolCall("get_weather", '{"city": "Rome"}', "c2"),
    ]
)


def call(call_id: str, city: str = "Paris") -> dict[str, Any]:
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": "get_weather",
        "arguments": f'{{"city": "{city}"}}',
    }


def output(call_id: str, text: str = "Sunny.") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


def assert_unanswered(r: Any, message: str) -> None:
    error = assert_error(r, 400, param="input", code=None)
    assert error["message"] == message


async def test_two_calls_in_the_input_answered_once(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="never")])
    question = {"role": "user", "content": "Weather in Paris and Rome?"}
    r = await h.create(tools=[WEATHER], input=[question, call("c1"), call("c2", "Rome"), output("c1")])
    assert_unanswered(r, "No tool output found for function call c2.")
    assert h.fake.requests == []  # the provider is never sent the broken history


async def test_a_call_left_unanswered_in_the_chain(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([TWO_CALLS, Reply(text="Both sunny.")])
    first = (await h.create(tools=[WEATHER], input="Weather in Paris and Rome?")).json()
    assert [item["call_id"] for item in first["output"]] == ["c1", "c2"]
    new_question = await h.create(tools=[WEATHER], previous_response_id=first["id"], input="And Oslo?")
    assert_unanswered(new_question, "No tool output found for function call c1.")
    one = await h.create(tools=[WEATHER], previous_response_id=first["id"], input=[output("c2")])
    assert_unanswered(one, "No tool output found for function call c1.")
    assert len(h.fake.requests) == 1
    # The normal case: the chain ends with calls, and the new input answers every one of them.
    both = await h.create(
        tools=[WEATHER], previous_response_id=first["id"], input=[output("c1"), output("c2")]
    )
    assert both.status_code == 200, both.text
    assert [m["role"] for m in h.fake.requests[1]["messages"]] == ["user", "assistant", "tool", "tool"]


async def test_a_call_left_unanswered_in_the_conversation(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([TWO_CALLS, Reply(text="Both sunny.")])
    conversation = (await h.client.post("/v1/conversations", json={})).json()["id"]
    first = await h.create(tools=[WEATHER], conversation=conversation, input="Weather in Paris and Rome?")
    assert first.status_code == 200, first.text
    r = await h.create(
        tools=[WEATHER],
        conversation=conversation,
        input=[output("c1"), {"role": "user", "content": "Thanks. And Oslo?"}],
    )
    assert_unanswered(r, "No tool output found for function call c2.")
    r = await h.create(tools=[WEATHER], conversation=conversation, input=[output("c1"), output("c2")])
    assert r.status_code == 200, r.text


async def test_custom_tool_calls_pair_with_their_own_outputs(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Done.")])
    custom_call = {
        "type": "custom_tool_call",
        "call_id": "p1",
        "name": "apply_patch",
        "input": "*** Begin Patch",
    }
    question = {"role": "user", "content": "Patch it."}
    unanswered = await h.create(tools=[PATCH], input=[question, custom_call])
    assert_unanswered(unanswered, "No tool output found for custom tool call p1.")
    # A function_call_output with the same call_id does not answer a custom call.
    wrong_kind = await h.create(
        tools=[PATCH, WEATHER], input=[question, custom_call, call("p1"), output("p1")]
    )
    assert_unanswered(wrong_kind, "No tool output found for custom tool call p1.")
    answered = {"type": "custom_tool_call_output", "call_id": "p1", "output": "Applied."}
    r = await h.create(tools=[PATCH], input=[question, custom_call, answered])
    assert r.status_code == 200, r.text


async def test_calls_the_server_answered_itself_need_no_output(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="It said sunny.")])
    searched = {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search", "query": "weather Paris"},
    }
    r = await h.create(
        input=[{"role": "user", "content": "Weather?"}, searched, {"role": "user", "content": "So?"}]
    )
    assert r.status_code == 200, r.text

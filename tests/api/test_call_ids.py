"""Call ids the caller sees are unique within a chain, even from a server that numbers its calls
per completion (``call_0`` every turn), as clients that key calls by id require."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parley.testing.fake_upstream import Reply, ToolCall
from tests.conftest import Harness

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def calls(response: dict[str, Any]) -> list[str]:
    return [item["call_id"] for item in response["output"] if item["type"] == "function_call"]


async def test_a_per_completion_call_id_is_made_unique_in_the_chain_and_sent_back_as_the_caller_saw_it(
    harness_factory: Callable[..., Harness],
) -> None:
    script = [
        Reply(tool_calls=[ToolCall("get_weather", '{"city": "Oslo"}', id="call_0")]),
        Reply(tool_calls=[ToolCall("get_weather", '{"city": "Rome"}', id="call_0")]),
        Reply(text="Oslo is clear, Rome is sunny."),
    ]
    h = harness_factory(script)
    first = (await h.create(input="Weather in Oslo, then Rome?", tools=[WEATHER])).json()
    assert calls(first) == ["call_0"]  # a first use passes unchanged
    answer = {"type": "function_call_output", "call_id": "call_0", "output": "clear"}
    second = (await h.create(input=[answer], previous_response_id=first["id"], tools=[WEATHER])).json()
    [renamed] = calls(second)
    assert renamed != "call_0"
    assert renamed.startswith("call_")
    assert len(renamed) <= 40  # OpenAI's limit on a tool call id, should it be sent there
    answer = {"type": "function_call_output", "call_id": renamed, "output": "sunny"}
    third = await h.create(input=[answer], previous_response_id=second["id"], tools=[WEATHER])
    assert third.status_code == 200, third.text
    sent = h.fake.requests[2]["messages"]
    assert [c["id"] for m in sent for c in m.get("tool_calls") or ()] == ["call_0", renamed]
    assert [m["tool_call_id"] for m in sent if m["role"] == "tool"] == ["call_0", renamed]


async def test_two_calls_with_one_id_in_one_completion_become_two_ids(
    harness_factory: Callable[..., Harness],
) -> None:
    both = [
        ToolCall("get_weather", '{"city": "Oslo"}', id="0"),
        ToolCall("get_weather", '{"city": "Rome"}', id="0"),
    ]
    h = harness_factory([Reply(tool_calls=both)])
    response = (await h.create(input="Oslo and Rome?", tools=[WEATHER])).json()
    ids = calls(response)
    assert len(ids) == 2
    assert len(set(ids)) == 2

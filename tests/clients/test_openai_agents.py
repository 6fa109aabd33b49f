"""The OpenAI Agents SDK (``openai-agents``) against Parley: tools, streaming, a handoff, structured output.

The SDK drives the agent loop on its side: every model call is one ``POST /v1/responses`` with the
function tools (and handoffs, which are function tools too) it offers, and every tool output goes
back as a ``function_call_output`` input item (or, chained, with ``previous_response_id``). Tracing is
off, so nothing leaves the machine.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from agents import Agent, ModelSettings, RunConfig, Runner, function_tool
from agents.models.openai_responses import OpenAIResponsesModel
from agents.stream_events import RawResponsesStreamEvent, RunItemStreamEvent
from pydantic import BaseModel

from parley.testing.fake_upstream import Reply, ToolCall
from tests.clients.conftest import RecordingClient
from tests.e2e.conftest import MODEL, ScriptedUpstream

Json = dict[str, Any]
NO_TRACING = RunConfig(tracing_disabled=True)


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 21 C and sunny"


@function_tool
def refund_order(order_id: str) -> str:
    """Refund an order by its id."""
    return f"refund issued for {order_id}"


@pytest.fixture
def model(recording_client: RecordingClient) -> OpenAIResponsesModel:
    return OpenAIResponsesModel(MODEL, recording_client.openai)


def tool_messages(request: Json) -> list[Json]:
    """The tool results Parley passed upstream, as chat ``tool`` messages."""
    return [m for m in request["messages"] if m.get("role") == "tool"]


def offered_tools(request: Json) -> list[str]:
    return [tool["function"]["name"] for tool in request.get("tools") or []]


async def test_run_with_function_tool(model: OpenAIResponsesModel, upstream: ScriptedUpstream) -> None:
    upstream.script(
        Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')]),
        Reply(text="It is 21 C and sunny in Paris."),
    )
    agent = Agent(name="Weather", instructions="Answer weather questions.", model=model, tools=[get_weather])

    result = await Runner.run(agent, "Weather in Paris?", run_config=NO_TRACING)

    assert result.final_output == "It is 21 C and sunny in Paris."
    first, second = upstream.requests
    assert offered_tools(first) == ["get_weather"]
    assert first["messages"][0] == {"role": "system", "content": "Answer weather questions."}
    [tool_result] = tool_messages(second)
    assert tool_result["content"] == "Paris: 21 C and sunny"
    assert upstream.unused == 0


async def test_run_streamed_with_function_tool(
    model: OpenAIResponsesModel, upstream: ScriptedUpstream
) -> None:
    upstream.script(
        Reply(tool_calls=[ToolCall("get_weather", '{"city": "Oslo"}')]),
        Reply(text="Oslo is sunny today."),
    )
    agent = Agent(name="Weather", model=model, tools=[get_weather])

    result = Runner.run_streamed(agent, "Weather in Oslo?", run_config=NO_TRACING)
    raw_types: list[str] = []
    item_names: list[str] = []
    async for event in result.stream_events():
        if isinstance(event, RawResponsesStreamEvent):
            raw_types.append(event.data.type)
        elif isinstance(event, RunItemStreamEvent):
            item_names.append(event.name)

    assert result.final_output == "Oslo is sunny today."
    assert item_names == ["tool_called", "tool_output", "message_output_created"]
    assert raw_types.count("response.completed") == 2
    assert "response.function_call_arguments.delta" in raw_types
    assert "response.output_text.delta" in raw_types
    assert tool_messages(upstream.requests[1])[0]["content"] == "Oslo: 21 C and sunny"


async def test_handoff_then_specialist_tool(model: OpenAIResponsesModel, upstream: ScriptedUpstream) -> None:
    """Triage hands off; the specialist then calls its own tool on the handoff's output and answers."""
    upstream.script(
        Reply(tool_calls=[ToolCall("transfer_to_refunds", "{}")]),
        Reply(tool_calls=[ToolCall("refund_order", '{"order_id": "A-17"}')]),
        Reply(text="Your order A-17 has been refunded."),
    )
    refunds = Agent(name="Refunds", instructions="You issue refunds.", model=model, tools=[refund_order])
    triage = Agent(
        name="Triage",
        instructions="Route the customer.",
        model=model,
        handoffs=[refunds],
        model_settings=ModelSettings(parallel_tool_calls=False),
    )

    result = await Runner.run(triage, "Please refund order A-17.", run_config=NO_TRACING)

    assert result.final_output == "Your order A-17 has been refunded."
    assert result.last_agent is refunds
    triage_call, specialist_call, answer_call = upstream.requests
    assert offered_tools(triage_call) == ["transfer_to_refunds"]
    assert offered_tools(specialist_call) == ["refund_order"]
    assert specialist_call["messages"][0] == {"role": "system", "content": "You issue refunds."}
    [handoff_output] = tool_messages(specialist_call)
    assert json.loads(handoff_output["content"]) == {"assistant": "Refunds"}
    call_ids = [m["tool_call_id"] for m in tool_messages(answer_call)]
    assert len(call_ids) == 2
    assert len(set(call_ids)) == 2
    assert tool_messages(answer_call)[-1]["content"] == "refund issued for A-17"


async def test_chained_by_previous_response_id(
    model: OpenAIResponsesModel, recording_client: RecordingClient, upstream: ScriptedUpstream
) -> None:
    """With ``auto_previous_response_id`` the SDK sends only the tool output; Parley supplies the rest."""
    upstream.script(
        Reply(tool_calls=[ToolCall("get_weather", '{"city": "Rome"}')]),
        Reply(text="Rome is sunny."),
    )
    agent = Agent(name="Weather", instructions="Be brief.", model=model, tools=[get_weather])

    result = await Runner.run(
        agent, "Weather in Rome?", run_config=NO_TRACING, auto_previous_response_id=True
    )

    assert result.final_output == "Rome is sunny."
    first, second = recording_client.bodies
    assert first.get("previous_response_id") is None
    assert second["previous_response_id"] == result.raw_responses[0].response_id
    assert [item["type"] for item in second["input"]] == ["function_call_output"]
    roles = [m["role"] for m in upstream.requests[1]["messages"]]
    assert roles == ["system", "user", "assistant", "tool"]
    assert upstream.requests[1]["messages"][2]["tool_calls"][0]["function"]["name"] == "get_weather"


class Refund(BaseModel):
    order_id: str
    approved: bool


async def test_structured_output(model: OpenAIResponsesModel, upstream: ScriptedUpstream) -> None:
    """An ``output_type`` goes out as a strict JSON-schema ``text.format`` and comes back parsed."""
    upstream.script(Reply(text='{"order_id": "B-2", "approved": true}'))
    agent = Agent(name="Refunds", model=model, output_type=Refund)

    result = await Runner.run(agent, "Refund B-2?", run_config=NO_TRACING)

    assert result.final_output == Refund(order_id="B-2", approved=True)
    response_format = upstream.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"order_id", "approved"}

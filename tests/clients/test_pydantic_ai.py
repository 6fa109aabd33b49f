"""pydantic-ai's ``OpenAIResponsesModel`` against Parley: a tool call, structured output, streaming.

pydantic-ai runs the agent loop on its side over ``POST /v1/responses``. Its default structured
output is a ``final_result`` function tool; ``NativeOutput`` asks for a JSON-schema ``text.format``
instead, which Parley passes upstream as ``response_format``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models.openai import OpenAIResponsesModel, OpenAIResponsesModelSettings
from pydantic_ai.providers.openai import OpenAIProvider

from parley.testing.fake_upstream import Reply, ToolCall
from tests.clients.conftest import RecordingClient
from tests.e2e.conftest import MODEL, ScriptedUpstream

Json = dict[str, Any]


class Forecast(BaseModel):
    city: str
    celsius: int


def get_temperature(city: str) -> int:
    """Current temperature of a city, in degrees Celsius."""
    return {"Paris": 21, "Oslo": 9}[city]


@pytest.fixture
def model(recording_client: RecordingClient) -> OpenAIResponsesModel:
    return OpenAIResponsesModel(MODEL, provider=OpenAIProvider(openai_client=recording_client.openai))


def tool_names(request: Json) -> list[str]:
    return [tool["function"]["name"] for tool in request.get("tools") or []]


async def test_tool_then_structured_output(model: OpenAIResponsesModel, upstream: ScriptedUpstream) -> None:
    upstream.script(
        Reply(tool_calls=[ToolCall("get_temperature", '{"city": "Paris"}')]),
        Reply(tool_calls=[ToolCall("final_result", '{"city": "Paris", "celsius": 21}')]),
    )
    agent = Agent(model, output_type=Forecast, tools=[get_temperature], instructions="Report the weather.")

    result = await agent.run("How warm is Paris?")

    assert result.output == Forecast(city="Paris", celsius=21)
    first, second = upstream.requests
    assert sorted(tool_names(first)) == ["final_result", "get_temperature"]
    assert first["messages"][0] == {"role": "system", "content": "Report the weather."}
    tool_result = second["messages"][-1]
    assert tool_result["role"] == "tool"
    assert tool_result["content"] == "21"
    assert (result.usage.requests, result.usage.tool_calls) == (2, 1)


async def test_native_structured_output(model: OpenAIResponsesModel, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text='{"city": "Oslo", "celsius": 9}'))
    agent = Agent(model, output_type=NativeOutput(Forecast))

    result = await agent.run("How warm is Oslo?")

    assert result.output == Forecast(city="Oslo", celsius=9)
    response_format = upstream.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Forecast"
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"city", "celsius"}


async def test_streamed_run_with_tool(model: OpenAIResponsesModel, upstream: ScriptedUpstream) -> None:
    upstream.script(
        Reply(tool_calls=[ToolCall("get_temperature", '{"city": "Oslo"}')]),
        Reply(text="Oslo is at 9 degrees today."),
    )
    agent = Agent(model, tools=[get_temperature])

    async with agent.run_stream("How warm is Oslo?") as run:
        pieces = [piece async for piece in run.stream_text(delta=True, debounce_by=None)]

    assert len(pieces) > 1
    assert "".join(pieces) == "Oslo is at 9 degrees today."
    assert [request["stream"] for request in upstream.requests] == [True, True]
    assert json.loads(upstream.requests[1]["messages"][-1]["content"]) == 9


async def test_chained_by_previous_response_id(
    model: OpenAIResponsesModel, recording_client: RecordingClient, upstream: ScriptedUpstream
) -> None:
    """``openai_previous_response_id="auto"`` sends only what is new; Parley rebuilds the history."""
    upstream.script(
        Reply(tool_calls=[ToolCall("get_temperature", '{"city": "Paris"}')]),
        Reply(text="Paris is at 21 degrees."),
    )
    settings = OpenAIResponsesModelSettings(openai_previous_response_id="auto")
    agent = Agent(model, tools=[get_temperature], instructions="Be brief.", model_settings=settings)

    result = await agent.run("How warm is Paris?")

    assert result.output == "Paris is at 21 degrees."
    first, second = recording_client.bodies
    assert first.get("previous_response_id") is None
    call_response = result.all_messages()[1]
    assert isinstance(call_response, ModelResponse)
    assert second["previous_response_id"] == call_response.provider_response_id
    assert [item["type"] for item in second["input"]] == ["function_call_output"]
    roles = [m["role"] for m in upstream.requests[1]["messages"]]
    assert roles == ["system", "user", "assistant", "tool"]
    assert upstream.requests[1]["messages"][-1]["content"] == "21"

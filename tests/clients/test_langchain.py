"""LangChain's ``ChatOpenAI`` on the Responses API, and a LangGraph ReAct agent over it, against Parley.

``use_responses_api=True`` makes ``ChatOpenAI`` call ``POST /v1/responses`` (streamed or not) and read
Parley's output items back into ``AIMessage`` content blocks and tool calls; ``create_agent`` is
LangGraph's ReAct loop (model node -> tool node -> model node) as LangChain 1.x ships it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import openai
import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from parley.testing.fake_upstream import Reply, ToolCall
from tests.e2e.conftest import MODEL, ScriptedUpstream

Json = dict[str, Any]


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 21 C and sunny"


@pytest.fixture
async def chat(parley_url: str) -> AsyncIterator[ChatOpenAI]:
    """HTTP clients of the test's own: ChatOpenAI's default ones are cached process-wide, and a pooled
    connection must not outlive the event loop of the test that opened it."""
    async with openai.DefaultAsyncHttpxClient() as async_http:
        with openai.DefaultHttpxClient() as sync_http:
            yield ChatOpenAI(
                model=MODEL,
                base_url=parley_url,
                api_key=SecretStr("test"),
                use_responses_api=True,
                max_retries=0,
                timeout=20.0,
                http_client=sync_http,
                http_async_client=async_http,
            )


async def test_invoke(chat: ChatOpenAI, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text="Saturn has rings.", prompt_tokens=7, completion_tokens=3))

    message = await chat.ainvoke("Which planet has rings?")

    assert isinstance(message, AIMessage)
    assert message.text == "Saturn has rings."
    assert message.id is not None
    assert message.id == message.response_metadata["id"]
    assert message.id.startswith("resp_")
    assert message.response_metadata["status"] == "completed"
    assert message.usage_metadata is not None
    assert (message.usage_metadata["input_tokens"], message.usage_metadata["output_tokens"]) == (7, 3)
    assert upstream.requests[0]["messages"] == [{"role": "user", "content": "Which planet has rings?"}]


def test_sync_stream(chat: ChatOpenAI, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text="Saturn has rings and many moons."))

    chunks = list(chat.stream("Tell me about Saturn."))

    assert len([c for c in chunks if c.text]) > 1
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert isinstance(merged, AIMessageChunk)
    assert merged.text == "Saturn has rings and many moons."
    assert upstream.requests[0]["stream"] is True


async def test_bind_tools(chat: ChatOpenAI, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')]))

    message = await chat.bind_tools([get_weather]).ainvoke("Weather in Paris?")

    assert isinstance(message, AIMessage)
    [call] = message.tool_calls
    assert (call["name"], call["args"]) == ("get_weather", {"city": "Paris"})
    assert call["id"] is not None
    assert call["id"].startswith("call_")
    [offered] = upstream.requests[0]["tools"]
    assert offered["function"]["name"] == "get_weather"
    assert offered["function"]["parameters"]["properties"] == {"city": {"type": "string"}}


class Planet(BaseModel):
    name: str
    moons: int


async def test_with_structured_output(chat: ChatOpenAI, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text='{"name": "Mars", "moons": 2}'))

    planet = await chat.with_structured_output(Planet, method="json_schema").ainvoke("Describe Mars.")

    assert planet == Planet(name="Mars", moons=2)
    response_format = upstream.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"name", "moons"}


async def test_langgraph_react_agent(chat: ChatOpenAI, upstream: ScriptedUpstream) -> None:
    upstream.script(
        Reply(tool_calls=[ToolCall("get_weather", '{"city": "Lima"}')]),
        Reply(text="Lima is sunny at 21 C."),
    )
    agent = create_agent(chat, tools=[get_weather], system_prompt="Answer weather questions.")

    state = await agent.ainvoke({"messages": [HumanMessage("Weather in Lima?")]})

    human, call, result, answer = state["messages"]
    assert isinstance(human, HumanMessage)
    assert isinstance(call, AIMessage)
    assert call.tool_calls[0]["args"] == {"city": "Lima"}
    assert isinstance(result, ToolMessage)
    assert result.content == "Lima: 21 C and sunny"
    assert result.tool_call_id == call.tool_calls[0]["id"]
    assert answer.text == "Lima is sunny at 21 C."
    second = upstream.requests[1]["messages"]
    assert second[0] == {"role": "system", "content": "Answer weather questions."}
    assert second[-1]["role"] == "tool"
    assert second[-1]["content"] == "Lima: 21 C and sunny"


async def test_langgraph_react_agent_streams_updates(chat: ChatOpenAI, upstream: ScriptedUpstream) -> None:
    upstream.script(
        Reply(tool_calls=[ToolCall("get_weather", '{"city": "Rome"}')]),
        Reply(text="Rome is sunny."),
    )
    agent = create_agent(chat, tools=[get_weather])

    steps: list[str] = []
    tokens: list[str] = []
    async for part in agent.astream(
        {"messages": [HumanMessage("Weather in Rome?")]}, stream_mode=["updates", "messages"]
    ):
        mode, payload = cast(tuple[str, Any], part)  # a list of modes tags each part with its mode
        if mode == "updates":
            steps.extend(payload)
        else:
            chunk, _meta = payload
            tokens.append(chunk.text)

    assert steps == ["model", "tools", "model"]
    assert "".join(tokens).endswith("Rome is sunny.")
    assert all(request["stream"] is True for request in upstream.requests)

"""The official ``openai`` SDK, sync and async, against a real Parley server on loopback.

Each scenario runs once per client (the ``api`` fixture), over real sockets: SDK -> uvicorn ->
Parley -> its pooled HTTP transport -> uvicorn -> the scripted fake upstream.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.lib.streaming.responses import ResponseTextDeltaEvent as HelperTextDelta
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseFailedEvent,
    ResponseFunctionToolCall,
    ResponseItem,
    ResponseOutputMessage,
    ResponseTextDeltaEvent,
)
from pydantic import BaseModel

from parley.testing.fake_upstream import Reply, ToolCall, split_pieces
from tests.e2e.conftest import MODEL, Api, ScriptedUpstream
from tests.support.replay import WEATHER_TOOL

Json = dict[str, Any]

PLANET_SCHEMA: Json = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "moons": {"type": "integer"}},
    "required": ["name", "moons"],
    "additionalProperties": False,
}


class Planet(BaseModel):
    name: str
    moons: int


def item_text(item: ResponseItem) -> str:
    """The text of a message item, whatever its role's content part type."""
    data = item.model_dump()
    return "".join(part.get("text") or "" for part in data.get("content") or [])


# 1. Plain text, non-streaming.


async def test_create_plain_text(api: Api, upstream: ScriptedUpstream) -> None:
    upstream.script(
        Reply(
            text="Saturn has rings.",
            prompt_tokens=12,
            completion_tokens=4,
            cached_tokens=3,
            reasoning_tokens=1,
        )
    )
    response = await api.create(input="Which planet has rings?", instructions="Be brief.")

    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == MODEL
    assert response.output_text == "Saturn has rings."
    assert len(response.output) == 1
    message = response.output[0]
    assert isinstance(message, ResponseOutputMessage)
    assert (message.role, message.status) == ("assistant", "completed")
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (12, 4, 16)
    assert usage.input_tokens_details.cached_tokens == 3
    assert usage.output_tokens_details.reasoning_tokens == 1
    assert len(upstream.requests) == 1
    assert upstream.requests[0]["model"] == MODEL
    assert upstream.requests[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Which planet has rings?"},
    ]


# 2. Plain text, stream=True.


async def test_create_stream_event_order(api: Api, upstream: ScriptedUpstream) -> None:
    text = "Saturn has rings and many moons."
    upstream.script(Reply(text=text, prompt_tokens=9, completion_tokens=6))
    events = await api.create_stream(input="Tell me about Saturn.")

    deltas = len(split_pieces(text))
    assert deltas > 1
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if isinstance(e, ResponseTextDeltaEvent)) == text

    created, completed = events[0], events[-1]
    assert isinstance(created, ResponseCreatedEvent)
    assert isinstance(completed, ResponseCompletedEvent)
    assert created.response.status == "in_progress"
    final = completed.response
    assert final.id == created.response.id
    assert final.status == "completed"
    assert final.output_text == text
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (9, 6)
    assert upstream.requests[0]["stream"] is True

    stored = await api.retrieve(final.id)
    assert stored.model_dump() == final.model_dump()


# 3. The responses.stream(...) helper.


async def test_stream_helper(api: Api, upstream: ScriptedUpstream) -> None:
    text = "Jupiter is the largest planet."
    upstream.script(Reply(text=text))
    events, final = await api.stream_helper(input="Which planet is largest?")

    text_deltas = [e for e in events if isinstance(e, HelperTextDelta)]
    assert len(text_deltas) == len(split_pieces(text))
    assert "".join(e.delta for e in text_deltas) == text
    assert text_deltas[-1].snapshot == text  # the helper accumulates the text itself
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert final.status == "completed"
    assert final.output_text == text
    assert (await api.retrieve(final.id)).output_text == text


# 4. Two parallel function calls, then their outputs with previous_response_id.


@pytest.mark.parametrize("streamed", [False, True], ids=["create", "stream-helper"])
async def test_parallel_function_calls_round_trip(
    api: Api, upstream: ScriptedUpstream, streamed: bool
) -> None:
    sf_args = json.dumps({"city": "San Francisco"})
    la_args = json.dumps({"city": "Los Angeles"})
    answer = "San Francisco is 18C and foggy; Los Angeles is 31C and sunny."
    upstream.script(
        Reply(
            tool_calls=[
                ToolCall("get_weather", sf_args, id="call_sf_1"),
                ToolCall("get_weather", la_args, id="call_la_2"),
            ]
        ),
        Reply(text=answer),
    )
    question = "What is the weather in San Francisco and Los Angeles?"
    first: Response
    if streamed:
        events, first = await api.stream_helper(input=question, tools=[WEATHER_TOOL])
        assert [e.type for e in events].count("response.function_call_arguments.done") == 2
    else:
        first = await api.create(input=question, tools=[WEATHER_TOOL])

    assert first.status == "completed"
    calls = [item for item in first.output if isinstance(item, ResponseFunctionToolCall)]
    assert len(calls) == len(first.output) == 2
    assert [(c.call_id, c.name, c.arguments, c.status) for c in calls] == [
        ("call_sf_1", "get_weather", sf_args, "completed"),
        ("call_la_2", "get_weather", la_args, "completed"),
    ]
    assert all(c.id and c.id.startswith("fc_") for c in calls)
    assert len({c.id for c in calls}) == 2

    second = await api.create(
        previous_response_id=first.id,
        tools=[WEATHER_TOOL],
        input=[
            {"type": "function_call_output", "call_id": "call_sf_1", "output": "18C and foggy"},
            {"type": "function_call_output", "call_id": "call_la_2", "output": "31C and sunny"},
        ],
    )
    assert second.status == "completed"
    assert second.previous_response_id == first.id
    assert second.output_text == answer

    assert len(upstream.requests) == 2
    assert upstream.requests[0]["tools"][0]["function"]["name"] == "get_weather"
    messages = upstream.requests[1]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool"]
    assert messages[0]["content"] == question
    assert not messages[1].get("content")
    assert messages[1]["tool_calls"] == [
        {"id": "call_sf_1", "type": "function", "function": {"name": "get_weather", "arguments": sf_args}},
        {"id": "call_la_2", "type": "function", "function": {"name": "get_weather", "arguments": la_args}},
    ]
    assert [(m["tool_call_id"], m["content"]) for m in messages[2:]] == [
        ("call_sf_1", "18C and foggy"),
        ("call_la_2", "31C and sunny"),
    ]
    assert upstream.requests[1]["tools"] == upstream.requests[0]["tools"]

    inputs = await api.input_items_all(second.id, order="asc")
    assert [item.type for item in inputs] == ["function_call_output", "function_call_output"]


# 5. Structured output.


async def test_json_schema_format(api: Api, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text='{"name": "Saturn", "moons": 146}'))
    response = await api.create(
        input="Which planet has the most moons?",
        text={"format": {"type": "json_schema", "name": "planet", "schema": PLANET_SCHEMA, "strict": True}},
    )
    assert upstream.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "planet", "schema": PLANET_SCHEMA, "strict": True},
    }
    assert json.loads(response.output_text) == {"name": "Saturn", "moons": 146}
    assert response.text is not None
    fmt = response.text.format
    assert fmt is not None
    assert fmt.model_dump(exclude_none=True, by_alias=True) == {
        "type": "json_schema",
        "name": "planet",
        "schema": PLANET_SCHEMA,
        "strict": True,
    }


async def test_parse_with_pydantic_model(api: Api, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text='{"name": "Saturn", "moons": 146}'))
    parsed = await api.parse(Planet, input="Which planet has the most moons?")

    assert parsed.output_parsed == Planet(name="Saturn", moons=146)
    response_format = upstream.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    schema = response_format["json_schema"]
    assert schema["name"] == "Planet"
    assert schema["strict"] is True
    assert schema["schema"]["properties"].keys() == {"name", "moons"}
    assert schema["schema"]["additionalProperties"] is False


# 6. Retrieve, input items, list, delete.


async def test_retrieve_input_items_and_delete(api: Api, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text="Four."))
    inputs = [
        {"role": "developer", "content": "Answer with one word."},
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "Let me think."},
        {"role": "user", "content": "Well?"},
    ]
    texts = [str(m["content"]) for m in inputs]
    created = await api.create(input=inputs)
    assert created.output_text == "Four."

    retrieved = await api.retrieve(created.id)
    assert retrieved.model_dump() == created.model_dump()

    newest_first, more = await api.input_items_page(created.id)
    assert [item_text(i) for i in newest_first] == texts[::-1]  # the default order is desc
    assert more is False
    oldest_first, more = await api.input_items_page(created.id, order="asc")
    assert [item_text(i) for i in oldest_first] == texts
    assert [getattr(i, "role", None) for i in oldest_first] == ["developer", "user", "assistant", "user"]
    assert all(i.type == "message" and i.id.startswith("msg_") for i in oldest_first)
    assert len({i.id for i in oldest_first}) == len(texts)
    assert more is False

    page, more = await api.input_items_page(created.id, limit=1, order="asc")
    assert [i.id for i in page] == [oldest_first[0].id]
    assert more is True
    page, more = await api.input_items_page(created.id, limit=1, order="asc", after=oldest_first[0].id)
    assert [i.id for i in page] == [oldest_first[1].id]
    assert more is True
    page, more = await api.input_items_page(created.id, limit=2, order="asc", after=oldest_first[1].id)
    assert [i.id for i in page] == [oldest_first[2].id, oldest_first[3].id]
    assert more is False
    page, more = await api.input_items_page(created.id, limit=2, after=oldest_first[3].id)
    assert [i.id for i in page] == [oldest_first[2].id, oldest_first[1].id]  # desc: after = older than
    assert more is True
    # The SDK's auto-pagination follows ``after`` through every page.
    assert [i.id for i in await api.input_items_all(created.id, limit=1, order="asc")] == [
        i.id for i in oldest_first
    ]
    assert [i.id for i in await api.input_items_all(created.id, limit=3)] == [i.id for i in newest_first]

    await api.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        await api.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        await api.input_items_page(created.id)
    with pytest.raises(openai.NotFoundError):
        await api.delete(created.id)
    with pytest.raises(openai.BadRequestError) as continued:  # OpenAI's 400, not a 404
        await api.create(input="And then?", previous_response_id=created.id)
    assert continued.value.code == "previous_response_not_found"


async def test_list_responses_newest_first(api: Api, upstream: ScriptedUpstream) -> None:
    upstream.script(*(Reply(text=f"Answer {n}.") for n in range(5)))
    made = [(await api.create(input=f"Question {n}?")).id for n in range(5)]
    newest_first = made[::-1]

    listed = await api.list_responses(limit=5)
    assert listed["object"] == "list"
    assert [r["id"] for r in listed["data"]] == newest_first
    assert listed["first_id"] == newest_first[0]
    assert listed["last_id"] == newest_first[-1]
    assert all(r["object"] == "response" and r["status"] == "completed" for r in listed["data"])

    page = await api.list_responses(limit=2, after=newest_first[1])
    assert [r["id"] for r in page["data"]] == newest_first[2:4]
    assert page["has_more"] is True

    await api.delete(made[2])
    listed = await api.list_responses(limit=4)
    assert [r["id"] for r in listed["data"]] == [newest_first[0], newest_first[1], newest_first[3], made[0]]


# 7. Errors through the SDK.


async def test_unknown_previous_response_id(api: Api, upstream: ScriptedUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await api.create(input="Hello again.", previous_response_id="resp_does_not_exist")
    assert caught.value.status_code == 400
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"
    assert upstream.requests == []


async def test_function_call_output_with_unknown_call_id(api: Api, upstream: ScriptedUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await api.create(
            input=[{"type": "function_call_output", "call_id": "call_nobody_made", "output": "42"}],
            tools=[WEATHER_TOOL],
        )
    assert caught.value.status_code == 400
    assert "call_nobody_made" in caught.value.message
    assert upstream.requests == []


async def test_upstream_http_error_is_502(api: Api, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(status=500))
    with pytest.raises(openai.APIStatusError) as caught:
        await api.create(input="Hello?")
    assert caught.value.status_code == 502
    assert isinstance(caught.value.body, dict)
    assert caught.value.body.get("type") == "upstream_error"


async def test_broken_upstream_stream_ends_with_response_failed(api: Api, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text="one two three four five", break_after_chunks=2))
    events = await api.create_stream(input="Count to five.")

    assert events[0].type == "response.created"
    failed = events[-1]
    assert isinstance(failed, ResponseFailedEvent)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "response.completed" not in [e.type for e in events]
    assert failed.response.status == "failed"
    assert failed.response.error is not None
    assert failed.response.error.message

    stored = await api.retrieve(failed.response.id)
    assert stored.status == "failed"
    assert stored.error is not None
    assert stored.error.code == failed.response.error.code


# 8. store=False.


@pytest.mark.parametrize("streamed", [False, True], ids=["create", "stream"])
async def test_store_false_is_not_kept(api: Api, upstream: ScriptedUpstream, streamed: bool) -> None:
    upstream.script(Reply(text="Not kept."))
    if streamed:
        events = await api.create_stream(input="Forget this.", store=False)
        completed = events[-1]
        assert isinstance(completed, ResponseCompletedEvent)
        response = completed.response
    else:
        response = await api.create(input="Forget this.", store=False)
    assert response.status == "completed"
    assert response.output_text == "Not kept."

    with pytest.raises(openai.NotFoundError):
        await api.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as caught:
        await api.create(input="Do you remember?", previous_response_id=response.id)
    assert caught.value.code == "previous_response_not_found"
    assert len(upstream.requests) == 1

"""Responses on a conversation, with the openai SDK: the conversation is the context, and each
response's input and output items are appended to it, in order, whole."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import openai
import pytest

from parley.engine.conversation import ConversationLocks
from parley.errors import InvalidRequest
from parley.testing.fake_upstream import Reply, ToolCall
from tests.conftest import Harness

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def sdk_for(harness: Harness) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://parley.test/v1", api_key="test", http_client=harness.client, max_retries=0
    )


def last_user_text(body: dict[str, Any]) -> str:
    user = [m for m in body["messages"] if m["role"] == "user"][-1]
    content = user["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


async def item_types(sdk: openai.AsyncOpenAI, conversation_id: str) -> list[tuple[str, str]]:
    page = await sdk.conversations.items.list(conversation_id, order="asc", limit=100)
    return [(item.type, getattr(item, "role", "") or "") for item in page.data]


async def test_a_chat_with_a_function_tool_keeps_every_item_in_order(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory(
        [
            Reply(reasoning="Weather, then.", tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')]),
            Reply(text="It is sunny in Paris."),
            Reply(text="You are welcome."),
        ]
    )
    sdk = sdk_for(h)
    conversation = await sdk.conversations.create(metadata={"topic": "weather"})
    first = await sdk.responses.create(
        model="fake-model", conversation=conversation.id, input="Weather in Paris?", tools=[WEATHER]
    )
    assert first.conversation is not None
    assert first.conversation.id == conversation.id
    call = next(item for item in first.output if item.type == "function_call")
    await sdk.responses.create(
        model="fake-model",
        conversation={"id": conversation.id},
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 24C"}],
        tools=[WEATHER],
    )
    last = await sdk.responses.create(model="fake-model", conversation=conversation.id, input="Thanks!")
    assert last.output_text == "You are welcome."

    assert await item_types(sdk, conversation.id) == [
        ("message", "user"),
        ("reasoning", ""),
        ("function_call", ""),
        ("function_call_output", ""),
        ("message", "assistant"),
        ("message", "user"),
        ("message", "assistant"),
    ]
    calls = h.fake.requests
    for earlier, later in itertools.pairwise(calls):
        assert later["messages"][: len(earlier["messages"])] == earlier["messages"]
    assert calls[-1]["messages"][-1] == {"role": "user", "content": "Thanks!"}
    assert calls[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call.call_id,
        "content": "sunny, 24C",
    }


async def test_twenty_racing_responses_each_append_whole(harness_factory: Callable[..., Harness]) -> None:
    def echo(body: dict[str, Any]) -> Reply:
        return Reply(text=f"answer to {last_user_text(body)}")

    h = harness_factory(echo)
    sdk = sdk_for(h)
    conversation = await sdk.conversations.create()
    responses = await asyncio.gather(
        *(
            sdk.responses.create(model="fake-model", conversation=conversation.id, input=f"question {n}")
            for n in range(20)
        )
    )
    assert all(r.status == "completed" for r in responses)
    page = await sdk.conversations.items.list(conversation.id, order="asc", limit=100)
    texts = [json.loads(item.model_dump_json())["content"][0]["text"] for item in page.data]
    assert len(texts) == 40
    questions, answers = texts[0::2], texts[1::2]
    assert sorted(questions) == sorted(f"question {n}" for n in range(20))
    assert answers == [f"answer to {q}" for q in questions]  # each answer right after its question
    # Each response saw every item the ones before it appended.
    sizes = sorted(len(body["messages"]) for body in h.fake.requests)
    assert sizes == [1 + 2 * n for n in range(20)]


async def test_store_false_and_failed_responses_append_nothing(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="Not kept."), Reply(status=500)])
    sdk = sdk_for(h)
    conversation = await sdk.conversations.create()
    unstored = await sdk.responses.create(
        model="fake-model", conversation=conversation.id, input="hello", store=False
    )
    assert unstored.output_text == "Not kept."
    with pytest.raises(openai.APIStatusError):
        await sdk.responses.create(model="fake-model", conversation=conversation.id, input="hello again")
    assert await item_types(sdk, conversation.id) == []


async def test_a_streamed_response_on_a_conversation(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Streamed answer.")])
    sdk = sdk_for(h)
    conversation = await sdk.conversations.create()
    stream = await sdk.responses.create(
        model="fake-model", conversation=conversation.id, input="stream it", stream=True
    )
    kinds = [event.type async for event in stream]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    assert await item_types(sdk, conversation.id) == [("message", "user"), ("message", "assistant")]


@pytest.mark.parametrize(
    ("body", "status", "param", "code"),
    [
        ({"conversation": "conv_missing"}, 404, "conversation", None),
        ({"conversation": {"id": "conv_missing"}}, 404, "conversation", None),
        ({"conversation": {"name": "x"}}, 400, "conversation", "invalid_value"),
        ({"conversation": "<conv>", "previous_response_id": "resp_x"}, 400, "conversation",
         "mutually_exclusive_parameters"),
    ],
)  # fmt: skip
async def test_bad_conversations_are_refused_before_anything_runs(
    harness_factory: Callable[..., Harness], body: dict[str, Any], status: int, param: str, code: str | None
) -> None:
    h = harness_factory([])
    conversation = (await h.client.post("/v1/conversations", json={})).json()
    if body.get("conversation") == "<conv>":
        body = {**body, "conversation": conversation["id"]}
    for stream in (False, True):
        r = await h.create(input="hi", stream=stream, **body)
        assert r.status_code == status, r.text
        error = r.json()["error"]
        assert error["param"] == param
        if code is not None:
            assert error["code"] == code
    assert h.fake.requests == []


async def test_a_deleted_conversation_cannot_be_continued(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="one")])
    sdk = sdk_for(h)
    conversation = await sdk.conversations.create()
    await sdk.responses.create(model="fake-model", conversation=conversation.id, input="hi")
    await sdk.conversations.delete(conversation.id)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.create(model="fake-model", conversation=conversation.id, input="again")


async def test_a_second_response_waits_its_turn_then_gives_up_as_openai_does() -> None:
    locks = ConversationLocks()
    order: list[str] = []

    async def turn(name: str, hold: float) -> None:
        async with locks.hold("conv_1", wait=1.0):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    await asyncio.gather(turn("a", 0.05), turn("b", 0))
    assert order == ["a in", "a out", "b in", "b out"]
    async with locks.hold("conv_1"):
        with pytest.raises(InvalidRequest) as locked:
            async with locks.hold("conv_1", wait=0.01):
                pass
    assert (locked.value.code, locked.value.param) == ("conversation_locked", "conversation")


async def test_items_added_during_a_response_come_after_its_items(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="a slow answer in many words", token_delay=0.02)])
    sdk = sdk_for(h)
    conversation = await sdk.conversations.create()

    async def respond() -> None:
        await sdk.responses.create(model="fake-model", conversation=conversation.id, input="question")

    async def add_note() -> None:
        await asyncio.sleep(0.03)  # the response holds the conversation by now
        await sdk.conversations.items.create(
            conversation.id, items=[{"type": "message", "role": "user", "content": "a note"}]
        )

    await asyncio.gather(respond(), add_note())
    page = await sdk.conversations.items.list(conversation.id, order="asc")
    texts = [json.loads(item.model_dump_json())["content"][0]["text"] for item in page.data]
    assert texts == ["question", "a slow answer in many words", "a note"]

"""Stored responses: previous_response_id chains, store=false, input_items, list and delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parley.config import ProviderConfig
from parley.testing.fake_upstream import Reply, ToolCall
from tests.conftest import Harness


def echo_turn(body: dict[str, Any]) -> Reply:
    """Answer each user message with 'reply to <text>', so every turn's history is predictable."""
    return Reply(text=f"reply to {body['messages'][-1]['content']}")


async def test_fifty_turn_chain_sends_full_ordered_history(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(echo_turn)
    previous = None
    for turn in range(50):
        r = await h.create(input=f"turn {turn}", previous_response_id=previous, instructions="Be brief.")
        assert r.status_code == 200, r.text
        previous = r.json()["id"]
    expected = [{"role": "system", "content": "Be brief."}]
    for turn, request in enumerate(h.fake.requests):
        expected.append({"role": "user", "content": f"turn {turn}"})
        assert request["messages"] == expected, f"turn {turn}"
        expected.append({"role": "assistant", "content": f"reply to turn {turn}"})
    assert len(h.fake.requests) == 50


async def test_instructions_are_not_inherited(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(echo_turn)
    first = (await h.create(input="a", instructions="Old rules.")).json()
    await h.create(input="b", previous_response_id=first["id"])
    assert h.fake.requests[-1]["messages"][0] == {"role": "user", "content": "a"}


async def test_function_call_outputs_continue_a_response(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(
        [
            Reply(
                tool_calls=[
                    ToolCall("get_weather", '{"city": "SF"}', "call_a"),
                    ToolCall("get_weather", '{"city": "LA"}', "call_b"),
                ]
            ),
            Reply(text="LA is warmer."),
        ]
    )
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    first = (await h.create(input="Weather?", tools=[tool])).json()
    assert [i["call_id"] for i in first["output"]] == ["call_a", "call_b"]
    r = await h.create(
        previous_response_id=first["id"],
        tools=[tool],
        input=[
            {"type": "function_call_output", "call_id": "call_a", "output": "15C"},
            {"type": "function_call_output", "call_id": "call_b", "output": "25C"},
        ],
    )
    assert r.status_code == 200, r.text
    assert r.json()["output"][0]["content"][0]["text"] == "LA is warmer."
    assert h.fake.requests[1]["messages"] == [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "SF"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "LA"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "15C"},
        {"role": "tool", "tool_call_id": "call_b", "content": "25C"},
    ]


async def test_reasoning_is_stored_and_sent_back(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(reasoning="Rings: Saturn.", text="Saturn."), Reply(text="Titan.")])
    first = (await h.create(input="Ringed planet?")).json()
    assert [i["type"] for i in first["output"]] == ["reasoning", "message"]
    await h.create(input="Its moon?", previous_response_id=first["id"])
    assistant = h.fake.requests[1]["messages"][1]
    assert assistant == {"role": "assistant", "content": "Saturn.", "reasoning_content": "Rings: Saturn."}


async def test_store_false_is_not_persisted_nor_continuable(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="ok"), Reply(text="never")])
    r = (await h.create(input="secret", store=False)).json()
    assert r["store"] is False
    assert (await h.client.get(f"/v1/responses/{r['id']}")).status_code == 404
    cont = await h.create(input="more", previous_response_id=r["id"])
    assert cont.status_code == 400
    assert cont.json()["error"]["code"] == "previous_response_not_found"
    assert (await h.client.get("/v1/responses")).json()["data"] == []


async def test_input_items_paginate(harness: Harness) -> None:
    items = [{"role": "user", "content": f"m{i}"} for i in range(5)]
    created = (await harness.create(input=items)).json()
    url = f"/v1/responses/{created['id']}/input_items"
    page = (await harness.client.get(url, params={"order": "asc", "limit": 2})).json()
    assert [i["content"][0]["text"] for i in page["data"]] == ["m0", "m1"]
    assert page["has_more"] is True
    assert page["first_id"] == page["data"][0]["id"]
    after = (await harness.client.get(url, params={"order": "asc", "after": page["last_id"]})).json()
    assert [i["content"][0]["text"] for i in after["data"]] == ["m2", "m3", "m4"]
    assert after["has_more"] is False
    newest = (await harness.client.get(url, params={"limit": 1})).json()
    assert newest["data"][0]["content"] == [{"type": "input_text", "text": "m4"}]
    assert newest["data"][0]["type"] == "message"
    assert newest["data"][0]["id"].startswith("msg_")


async def test_list_and_delete(harness: Harness) -> None:
    ids = [(await harness.create(input=f"q{i}")).json()["id"] for i in range(3)]
    listed = (await harness.client.get("/v1/responses", params={"limit": 2})).json()
    assert listed["object"] == "list"
    assert len(listed["data"]) == 2
    assert listed["has_more"] is True
    deleted = await harness.client.delete(f"/v1/responses/{ids[0]}")
    assert deleted.json() == {"id": ids[0], "object": "response.deleted", "deleted": True}
    assert (await harness.client.get(f"/v1/responses/{ids[0]}")).status_code == 404
    assert (await harness.client.delete(f"/v1/responses/{ids[0]}")).status_code == 404
    remaining = (await harness.client.get("/v1/responses", params={"order": "asc"})).json()["data"]
    assert [r["id"] for r in remaining] == sorted(ids[1:], key=ids.index)


async def test_reasoning_can_be_kept_from_providers_that_refuse_it(
    harness_factory: Callable[..., Harness],
) -> None:
    no_reasoning = ProviderConfig(
        "default", "http://upstream.test/v1", capabilities={"reasoning_in_history": False}
    )
    h = harness_factory(
        [Reply(reasoning="Rings: Saturn.", text="Saturn."), Reply(text="Titan.")], providers=(no_reasoning,)
    )
    first = (await h.create(input="Ringed planet?")).json()
    await h.create(input="Its moon?", previous_response_id=first["id"])
    assert h.fake.requests[1]["messages"][1] == {"role": "assistant", "content": "Saturn."}


async def test_truncation_auto_drops_oldest_turns_until_the_input_fits(
    harness_factory: Callable[..., Harness],
) -> None:
    too_long = Reply(status=400, error_body={"error": {"message": "maximum context length is 64 tokens"}})

    def fits_in_three_messages(body: dict[str, Any]) -> Reply:
        return (
            too_long
            if len(body["messages"]) > 3
            else Reply(text=f"reply to {body['messages'][-1]['content']}")
        )

    h = harness_factory(fits_in_three_messages)
    previous = None
    for turn in range(3):  # each turn on its own fits: system + user
        r = await h.create(
            input=f"turn {turn}", previous_response_id=previous, instructions="Be brief.", truncation="auto"
        )
        assert r.status_code == 200, r.text
        previous = r.json()["id"]
    assert h.fake.requests[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "turn 2"},
    ]
    strict = await h.create(input="turn 3", previous_response_id=previous)
    assert strict.status_code == 400
    assert strict.json()["error"]["code"] == "context_length_exceeded"


async def test_inline_think_blocks_are_reasoning_by_default(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="<think>Rings means Saturn.</think>\nSaturn."), Reply(text="Titan.")])
    first = (await h.create(input="Ringed planet?")).json()
    assert [i["type"] for i in first["output"]] == ["reasoning", "message"]
    assert first["output"][1]["content"][0]["text"] == "Saturn."
    await h.create(input="Its moon?", previous_response_id=first["id"])
    assistant = h.fake.requests[1]["messages"][1]
    assert assistant == {
        "role": "assistant",
        "content": "Saturn.",
        "reasoning_content": "Rings means Saturn.",
    }

"""Compaction with the openai SDK: ``responses.compact`` and ``context_management``, continued
statelessly (the compaction item in a full input) and through ``previous_response_id``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from parley.engine.compaction import SUMMARY_PROMPT
from parley.engine.messages import SUMMARY_HEADING
from parley.testing.fake_upstream import Reply
from tests.conftest import Harness

HISTORY: list[Any] = [
    {"role": "user", "content": "We are planning the product launch; the codename is Heron."},
    {"role": "assistant", "content": "Noted: launch codename Heron."},
    {"role": "user", "content": "We agreed to launch on Tuesday and notify support first."},
    {"role": "assistant", "content": "Understood. Tuesday, with support notified beforehand."},
    {"role": "user", "content": "Who else must hear about it?"},
    {"role": "assistant", "content": "Sales and the on-call engineers."},
]
SUMMARY = "Launch Heron on Tuesday; notify support first."
SUMMARY_REPLY = Reply(text=SUMMARY, prompt_tokens=90, completion_tokens=12)


def sdk_for(harness: Harness) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://parley.test/v1", api_key="test", http_client=harness.client, max_retries=0
    )


def texts(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"] if isinstance(m["content"], str) else "") for m in body["messages"]]


def dumped(items: list[Any]) -> list[Any]:
    return [item.model_dump(mode="json", exclude_none=True, warnings=False) for item in items]


def assert_compacted_context(body: dict[str, Any], last: str) -> None:
    """The summary replaces the older turns; the latest turn is there verbatim."""
    assert texts(body) == [
        ("system", SUMMARY_HEADING + SUMMARY),
        ("user", "Who else must hear about it?"),
        ("assistant", "Sales and the on-call engineers."),
        ("user", last),
    ]


async def test_compact_then_continue_statelessly_with_the_compacted_output(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text=SUMMARY, prompt_tokens=90, completion_tokens=12), Reply(text="Done.")])
    sdk = sdk_for(h)
    compacted = await sdk.responses.compact(model="fake-model", input=HISTORY)
    assert compacted.object == "response.compaction"
    assert compacted.id.startswith("resp_")
    assert [item.type for item in compacted.output] == ["message"] * 3 + ["compaction"]
    compaction: Any = compacted.output[-1]
    assert compaction.id.startswith("cmp_")
    assert compaction.encrypted_content.startswith("parley-rs1.")
    assert compacted.usage.input_tokens == 90
    assert compacted.usage.output_tokens == 12
    summary_call = h.fake.requests[0]
    assert summary_call["messages"][0] == {"role": "system", "content": SUMMARY_PROMPT}
    assert "codename is Heron" in summary_call["messages"][1]["content"]
    assert "Sales and the on-call" not in summary_call["messages"][1]["content"]  # kept verbatim instead

    follow = [*dumped(compacted.output), {"role": "user", "content": "Draft the note."}]
    response = await sdk.responses.create(model="fake-model", input=follow, store=False)
    assert response.output_text == "Done."
    assert_compacted_context(h.fake.requests[1], "Draft the note.")


async def test_compact_a_stored_chain_and_continue_it_through_previous_response_id(
    harness_factory: Callable[..., Harness],
) -> None:
    replies = ["Sales and the on-call engineers.", SUMMARY, "Drafted.", "Sent."]
    h = harness_factory([Reply(text=text) for text in replies])
    sdk = sdk_for(h)
    first = await sdk.responses.create(model="fake-model", input=HISTORY[:5])
    compacted = await sdk.responses.compact(model="fake-model", previous_response_id=first.id)
    assert [item.type for item in compacted.output][-1] == "compaction"
    assert "codename is Heron" in h.fake.requests[1]["messages"][1]["content"]

    item = dumped(compacted.output[-1:])
    second = await sdk.responses.create(
        model="fake-model",
        previous_response_id=first.id,
        input=[*item, {"role": "user", "content": "Draft the note."}],
    )
    assert_compacted_context(h.fake.requests[2], "Draft the note.")
    await sdk.responses.create(model="fake-model", previous_response_id=second.id, input="Send it.")
    assert texts(h.fake.requests[3])[:3] == texts(h.fake.requests[2])[:3]  # the chain stays compacted
    assert texts(h.fake.requests[3])[-2:] == [("assistant", "Drafted."), ("user", "Send it.")]


async def test_a_tampered_compaction_item_is_a_400_naming_it(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text=SUMMARY)])
    sdk = sdk_for(h)
    compacted = await sdk.responses.compact(model="fake-model", input=HISTORY)
    item = dumped(compacted.output[-1:])[0]
    sealed = item["encrypted_content"]
    item["encrypted_content"] = sealed[:-6] + ("AAAAAA" if not sealed.endswith("AAAAAA") else "BBBBBB")
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.responses.create(model="fake-model", input=[item, {"role": "user", "content": "Go on."}])
    error: Any = caught.value.body
    assert error["param"] == "input[0].encrypted_content"
    assert error["code"] == "invalid_encrypted_content"
    assert len(h.fake.requests) == 1


async def test_reasoning_sealed_by_this_server_does_not_open_as_a_compaction(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="Hi.", reasoning="Greeting.")])
    sdk = sdk_for(h)
    first = await sdk.responses.create(
        model="fake-model", input="Hello", include=["reasoning.encrypted_content"], store=False
    )
    sealed = next(item for item in first.output if item.type == "reasoning").encrypted_content
    as_compaction = {"type": "compaction", "encrypted_content": sealed}
    answer = await h.create(input=[as_compaction, {"role": "user", "content": "Go on."}])
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "input[0].encrypted_content"


async def test_a_compaction_item_sealed_elsewhere_is_skipped(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Fine.")])
    foreign = {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAAABpM0Yj-openai"}
    answer = await h.create(input=[foreign, {"role": "user", "content": "Go on."}])
    assert answer.status_code == 200
    assert texts(h.fake.requests[0]) == [("user", "Go on.")]


async def test_compact_without_a_model_is_a_400(harness: Harness) -> None:
    answer = await harness.client.post("/v1/responses/compact", json={"input": "Compact this."})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "model"
    assert error["code"] == "missing_required_parameter"


LONG: list[Any] = [{"role": m["role"], "content": m["content"] + " " + "detail " * 40} for m in HISTORY[:5]]


async def test_automatic_compaction_fires_past_the_threshold_and_is_in_the_output(
    harness_factory: Callable[..., Harness],
) -> None:
    summary = Reply(text=SUMMARY, prompt_tokens=300, completion_tokens=10)
    h = harness_factory([summary, Reply(text="Sales."), Reply(text="Noted.")])
    sdk = sdk_for(h)
    stream: Any = await sdk.responses.create(
        model="fake-model",
        input=LONG,
        context_management=[{"type": "compaction", "compact_threshold": 200}],
        stream=True,
    )
    events = [event async for event in stream]
    kinds = [event.type for event in events]
    added = kinds.index("response.output_item.added")
    assert kinds[added : added + 3] == [
        "response.output_item.added",
        "response.compaction.compacting",
        "response.output_item.done",
    ]
    final: Any = events[-1]
    assert final.type == "response.completed"
    assert [item.type for item in final.response.output] == ["compaction", "message"]
    assert final.response.output[0].encrypted_content.startswith("parley-rs1.")
    assert final.response.usage.input_tokens >= 300  # the summary call is billed too
    assert h.fake.requests[0]["messages"][0]["content"] == SUMMARY_PROMPT
    model_call = texts(h.fake.requests[1])
    assert model_call[0] == ("system", SUMMARY_HEADING + SUMMARY)
    assert [role for role, _ in model_call] == ["system", "user"]

    await sdk.responses.create(model="fake-model", previous_response_id=final.response.id, input="Thanks.")
    assert [role for role, _ in texts(h.fake.requests[2])] == ["system", "user", "assistant", "user"]
    assert texts(h.fake.requests[2])[0] == ("system", SUMMARY_HEADING + SUMMARY)


async def test_a_compaction_trigger_compacts_there_and_then_and_the_chain_goes_on_from_it(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="Sales and the on-call engineers."), SUMMARY_REPLY, Reply(text="Sent.")])
    sdk = sdk_for(h)
    first = await sdk.responses.create(model="fake-model", input=HISTORY[:5])
    stream: Any = await sdk.responses.create(
        model="fake-model", previous_response_id=first.id, input=[{"type": "compaction_trigger"}], stream=True
    )
    events = [event async for event in stream]
    assert [event.type for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.compaction.compacting",
        "response.output_item.done",
        "response.completed",
    ]
    compacted = events[-1].response
    assert [item.type for item in compacted.output] == ["compaction"]
    assert compacted.usage.input_tokens == 90  # the summary call, and no other
    assert h.fake.requests[1]["messages"][0]["content"] == SUMMARY_PROMPT
    assert len(h.fake.requests) == 2

    await sdk.responses.create(model="fake-model", previous_response_id=compacted.id, input="Send it.")
    assert_compacted_context(h.fake.requests[2], "Send it.")


async def test_a_compaction_trigger_must_come_last_and_have_something_to_compact(harness: Harness) -> None:
    early = await harness.create(input=[{"type": "compaction_trigger"}, {"role": "user", "content": "Hi"}])
    assert early.status_code == 400
    assert early.json()["error"]["param"] == "input[0]"
    alone = await harness.create(input=[{"type": "compaction_trigger"}])
    assert alone.status_code == 400
    assert "nothing to compact" in alone.json()["error"]["message"]


async def test_below_the_threshold_nothing_is_compacted(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Sales.")])
    answer = await h.create(
        input=HISTORY[:5], context_management=[{"type": "compaction", "compact_threshold": 100_000}]
    )
    assert [item["type"] for item in answer.json()["output"]] == ["message"]
    assert len(h.fake.requests) == 1


async def test_the_compliance_suites_compact_shapes(harness_factory: Callable[..., Harness]) -> None:
    """What openresponses' ``compact-response`` and ``compact-missing-model`` check (bin/compliance-test.ts,
    ``CompactResource`` in public/openapi/openapi.json). The suite itself runs with bun against
    ``parley serve`` outside CI (it is not vendored here); these are its checks, in the suite."""
    h = harness_factory([Reply(text=SUMMARY)])
    answer = await h.client.post(
        "/v1/responses/compact",
        json={
            "model": "fake-model",
            "prompt_cache_key": "openresponses-compact-test",
            "input": [
                {"type": "message", "role": "user", "content": HISTORY[2]["content"]},
                {"type": "message", "role": "assistant", "content": HISTORY[3]["content"]},
            ],
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["object"] == "response.compaction"
    assert isinstance(body["id"], str)
    assert isinstance(body["created_at"], int)
    usage = body["usage"]
    assert all(isinstance(usage[k], int) for k in ("input_tokens", "output_tokens", "total_tokens"))
    assert isinstance(usage["input_tokens_details"]["cached_tokens"], int)
    assert isinstance(usage["output_tokens_details"]["reasoning_tokens"], int)
    assert body["output"]
    assert any(item["type"] == "compaction" for item in body["output"])
    for item in body["output"]:
        if item["type"] == "compaction":
            assert isinstance(item["id"], str)
            assert isinstance(item["encrypted_content"], str)
        else:
            assert item["type"] == "message"
            assert item["role"] == "user"
            assert item["status"] == "completed"
            assert isinstance(item["id"], str)
            assert isinstance(item["content"], list)
    missing = await h.client.post(
        "/v1/responses/compact",
        json={"input": [{"type": "message", "role": "user", "content": "Compact this conversation."}]},
    )
    assert missing.status_code in (400, 422)

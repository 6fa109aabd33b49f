"""Plain text responses: non-streaming and streaming, checked against the openai SDK's own models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from parley.testing.fake_upstream import Reply
from tests.conftest import Harness
from tests.support.wire import check_event

EVENTS: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)


def parse_sse(body: bytes) -> list[dict[str, Any]]:
    """Split an SSE body, checking the framing as it goes: event line, one data line, blank line."""
    frames = body.split(b"\n\n")
    assert frames[-1] == b""
    assert frames[-2] == b"data: [DONE]"
    events = []
    for frame in frames[:-2]:
        event_line, data_line = frame.split(b"\n")
        assert event_line.startswith(b"event: ")
        assert data_line.startswith(b"data: ")
        event = orjson.loads(data_line[6:])
        assert event["type"] == event_line[7:].decode()
        events.append(event)
    return events


async def test_non_streaming_text(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(
        [Reply(text="Saturn has rings.", prompt_tokens=12, completion_tokens=4, cached_tokens=3)]
    )
    r = await h.create(input="Which planet has rings?", instructions="Be brief.")
    assert r.status_code == 200, r.text
    body = r.json()
    response = Response.model_validate(body)
    assert response.output_text == "Saturn has rings."
    assert response.status == "completed"
    assert body["usage"] == {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 0},
        "output_tokens": 4,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 16,
    }
    assert isinstance(body["created_at"], int)
    assert isinstance(body["completed_at"], int)
    assert h.fake.requests[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Which planet has rings?"},
    ]
    assert h.fake.requests[0]["stream_options"] == {"include_usage": True}


async def test_streaming_text_event_order(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Saturn has rings.")])
    r = await h.create(input="Which planet?", stream=True)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.content)
    for event in events:
        check_event(event)
    kinds = [e["type"] for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    item_events = events[2:-1]
    assert {e["output_index"] for e in item_events} == {0}
    done = events[-1]["response"]
    assert done["output"][0]["content"][0]["text"] == "Saturn has rings."
    assert done["id"] == events[0]["response"]["id"]
    stored = (await h.client.get(f"/v1/responses/{done['id']}")).json()
    assert stored == done


# Open Responses spec (2026-04-24), ResponseResource: every field required; these may be null.
SPEC_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "object": str,
    "created_at": int,
    "completed_at": int,
    "status": str,
    "incomplete_details": dict,
    "model": str,
    "previous_response_id": str,
    "instructions": str,
    "output": list,
    "error": dict,
    "tools": list,
    "tool_choice": (str, dict),
    "truncation": str,
    "parallel_tool_calls": bool,
    "text": dict,
    "top_p": float,
    "presence_penalty": float,
    "frequency_penalty": float,
    "top_logprobs": int,
    "temperature": float,
    "reasoning": dict,
    "usage": dict,
    "max_output_tokens": int,
    "max_tool_calls": int,
    "store": bool,
    "background": bool,
    "service_tier": str,
    "metadata": dict,
    "safety_identifier": str,
    "prompt_cache_key": str,
}
NULLABLE = {
    "completed_at",
    "incomplete_details",
    "previous_response_id",
    "instructions",
    "error",
    "reasoning",
    "usage",
    "max_output_tokens",
    "max_tool_calls",
    "safety_identifier",
    "prompt_cache_key",
}


async def test_response_object_has_every_spec_field_with_spec_types(harness: Harness) -> None:
    r = await harness.create(input="hi")
    body = r.json()
    assert set(SPEC_FIELDS) <= set(body)
    for name, kind in SPEC_FIELDS.items():
        value = body[name]
        if value is None:
            assert name in NULLABLE, f"{name} must not be null"
        else:
            assert isinstance(value, kind), f"{name}={value!r} is not {kind}"
    assert body["tools"] == []
    assert body["truncation"] == "disabled"
    assert body["text"] == {"format": {"type": "text"}, "verbosity": "medium"}
    assert body["output"][0]["content"][0]["annotations"] == []
    assert body["output"][0]["content"][0]["logprobs"] == []

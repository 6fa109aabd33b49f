"""Background responses over real sockets: the in-process client hands over a body only once it is
whole, so only here can a test read a background stream as it is written, drop it midway, or
join it while it runs, with the official SDK as the client."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import openai
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseStreamEvent,
)

from parley.testing.fake_upstream import Reply
from tests.e2e.conftest import MODEL, ScriptedUpstream

COUNT = " ".join(f"w{n}" for n in range(20))
"""Twenty words: a stream of about thirty events, long enough to be joined midway."""
Events = list[ResponseStreamEvent]


async def poll(client: openai.AsyncOpenAI, response_id: str, *, until: str, within: float = 3.0) -> Response:
    deadline = time.monotonic() + within
    while True:
        found = await client.responses.retrieve(response_id)
        if found.status == until or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.02)


async def rest_of(stream: Any) -> Events:
    """What is left of an SDK stream, to its end."""
    return [event async for event in stream]


async def follow(client: openai.AsyncOpenAI, response_id: str, after: int) -> Events:
    """A reader joining the background stream: the SDK's retrieve with ``starting_after``."""
    stream: Any = await client.responses.retrieve(response_id, stream=True, starting_after=after)
    async with stream:
        return await rest_of(stream)


def created_response(event: ResponseStreamEvent) -> Response:
    """The queued response that a background stream's first event carries."""
    assert isinstance(event, ResponseCreatedEvent), event
    return event.response


def dumped(events: Events) -> list[dict[str, Any]]:
    return [event.model_dump() for event in events]


async def test_a_background_stream_whose_client_left_after_two_events_still_completes(
    async_client: openai.AsyncOpenAI, upstream: ScriptedUpstream
) -> None:
    abandoned_before = len(upstream.fake.abandoned)
    upstream.script(Reply(text=COUNT, token_delay=0.02))
    stream: Any = await async_client.responses.create(
        model=MODEL, input="Count.", background=True, stream=True
    )
    async with stream:  # leaving the block closes the connection, mid-stream
        first = [await anext(stream), await anext(stream)]
    assert [event.type for event in first] == ["response.created", "response.queued"]
    assert created_response(first[0]).status == "queued"

    done = await poll(async_client, created_response(first[0]).id, until="completed")
    assert done.status == "completed"
    assert done.background is True
    assert done.output_text == COUNT
    assert len(upstream.fake.abandoned) == abandoned_before  # the upstream call ran to its end


async def test_two_readers_joining_midway_get_the_events_after_their_cursor_as_the_creator_did(
    async_client: openai.AsyncOpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text=COUNT, token_delay=0.02))
    stream: Any = await async_client.responses.create(
        model=MODEL, input="Count.", background=True, stream=True
    )
    created: Events = []
    readers: dict[int, asyncio.Task[Events]] = {}
    joins = {5: 5, 10: 3}  # when the creator has seen sequence number k, a reader joins after joins[k]
    async with stream:
        async for event in stream:
            created.append(event)
            if event.sequence_number in joins:
                after = joins[event.sequence_number]
                readers[after] = asyncio.create_task(
                    follow(async_client, created_response(created[0]).id, after)
                )
    completed = created[-1]
    assert isinstance(completed, ResponseCompletedEvent), completed
    assert created[-1].sequence_number > max(joins)  # both readers joined while it still ran
    assert [event.sequence_number for event in created] == list(range(len(created)))

    for after, reader in readers.items():
        seen = await asyncio.wait_for(reader, 3)
        assert [event.sequence_number for event in seen] == list(range(after + 1, len(created)))
        assert dumped(seen) == dumped(created[after + 1 :])
    assert completed.response.output_text == COUNT


@dataclass
class Cancelled:
    """A background stream cancelled after five text deltas: what GET showed just before, what the
    cancel answered, what the stream still delivered, and what was stored."""

    text: str
    running: Response
    cancelled: Response
    rest: Events
    stored: Response


async def cancel_midway(client: openai.AsyncOpenAI, upstream: ScriptedUpstream) -> Cancelled:
    text = " ".join(f"w{n}" for n in range(200))  # two seconds of tokens: cancelled long before the end
    upstream.script(Reply(text=text, token_delay=0.01))
    stream: Any = await client.responses.create(model=MODEL, input="Talk.", background=True, stream=True)
    async with stream:
        seen: Events = []
        async for event in stream:
            seen.append(event)
            if sum(e.type == "response.output_text.delta" for e in seen) == 5:
                break
        response_id = created_response(seen[0]).id
        running = await client.responses.retrieve(response_id)
        cancelled = await client.responses.cancel(response_id)
        rest = await asyncio.wait_for(rest_of(stream), 3)
    return Cancelled(text, running, cancelled, rest, await client.responses.retrieve(response_id))


async def test_a_cancel_mid_stream_answers_cancelled_ends_the_stream_and_drops_the_upstream_call(
    async_client: openai.AsyncOpenAI, upstream: ScriptedUpstream
) -> None:
    abandoned_before = len(upstream.fake.abandoned)
    seen = await cancel_midway(async_client, upstream)
    assert seen.running.status == "in_progress"
    assert [item.type for item in seen.running.output] == ["message"]
    assert seen.cancelled.status == seen.stored.status == "cancelled"
    assert [item.type for item in seen.stored.output] == ["message"]
    assert all(event.type != "response.completed" for event in seen.rest)  # the stream just ends
    deadline = time.monotonic() + 2
    while len(upstream.fake.abandoned) == abandoned_before and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert len(upstream.fake.abandoned) == abandoned_before + 1  # the provider call was dropped midway
    assert len(upstream.requests) == 1


async def test_a_running_response_shows_its_text_so_far_and_a_cancel_keeps_it(
    async_client: openai.AsyncOpenAI, upstream: ScriptedUpstream
) -> None:
    seen = await cancel_midway(async_client, upstream)
    assert seen.text.startswith(seen.running.output_text)
    assert 0 < len(seen.running.output_text) < len(seen.text)
    assert seen.text.startswith(seen.cancelled.output_text)
    assert len(seen.running.output_text) <= len(seen.cancelled.output_text) < len(seen.text)
    assert seen.stored.output_text == seen.cancelled.output_text

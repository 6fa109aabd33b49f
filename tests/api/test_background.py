"""Background responses: queued at once, polled, streamed and resumed from any sequence number by
several readers, cancelled mid-stream (the provider call aborted), finished without their client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import openai
import orjson

from parley.testing.fake_upstream import Reply
from tests.conftest import Harness

SLOW = Reply(text="one two three four five six seven eight nine ten", token_delay=0.02)
Json = dict[str, Any]


def sdk_for(harness: Harness) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://parley.test/v1", api_key="test", http_client=harness.client, max_retries=0
    )


async def sse_events(response: httpx2.Response) -> AsyncIterator[Json]:
    async for line in response.aiter_lines():
        if line.startswith("data: {"):
            yield orjson.loads(line[6:])


async def collect(harness: Harness, url: str) -> list[Json]:
    async with harness.client.stream("GET", url) as response:
        assert response.status_code == 200, await response.aread()
        return [event async for event in sse_events(response)]


async def poll(harness: Harness, response_id: str, until: Callable[[Json], bool]) -> Json:
    for _ in range(500):
        found: Json = (await harness.client.get(f"/v1/responses/{response_id}")).json()
        if until(found):
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"response {response_id} never got there: {found}")


def finished(response: Json) -> bool:
    return response["status"] not in ("queued", "in_progress")


async def test_a_background_response_is_queued_at_once_and_polled_to_completion(harness_factory: Any) -> None:
    h = harness_factory([Reply(text="Done in the background.")])
    answer = await h.create(input="Work on it.", background=True)
    assert answer.status_code == 200
    queued = answer.json()
    assert (queued["status"], queued["background"], queued["output"]) == ("queued", True, [])
    done = await poll(h, queued["id"], finished)
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["text"] == "Done in the background."
    assert done["background"] is True


async def test_a_background_stream_begins_queued_and_resumes_for_two_readers_at_once(
    harness_factory: Any,
) -> None:
    h = harness_factory([SLOW])
    async with h.client.stream(
        "POST",
        "/v1/responses",
        json={"model": "fake-model", "input": "Count.", "background": True, "stream": True},
    ) as response:
        events = [event async for event in sse_events(response)]
    kinds = [event["type"] for event in events]
    assert kinds[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert events[0]["response"]["status"] == "queued"
    assert kinds[-1] == "response.completed"
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    response_id = events[0]["response"]["id"]
    url = f"/v1/responses/{response_id}?stream=true&starting_after=4"
    first, second = await asyncio.gather(collect(h, url), collect(h, url))
    assert first == second == events[5:]


async def started_stream(h: Harness, **body: Any) -> tuple[asyncio.Task[list[Json]], str]:
    """A background stream POSTed in a task (the in-process client hands over a body once it is
    whole), and the id of its response, found as the newest one once it is running."""

    async def post() -> list[Json]:
        async with h.client.stream("POST", "/v1/responses", json=body) as response:
            return [event async for event in sse_events(response)]

    task = asyncio.create_task(post())
    for _ in range(500):
        listed = (await h.client.get("/v1/responses?limit=1")).json()["data"]
        if listed:
            await poll(h, listed[0]["id"], lambda r: r["status"] == "in_progress")
            return task, listed[0]["id"]
        await asyncio.sleep(0.01)
    raise AssertionError("the background response was never queued")


async def test_readers_that_join_midway_follow_live_to_the_end(harness_factory: Any) -> None:
    h = harness_factory([SLOW])
    post, response_id = await started_stream(
        h, model="fake-model", input="Count.", background=True, stream=True
    )
    readers = [collect(h, f"/v1/responses/{response_id}?stream=true&starting_after={n}") for n in (0, 7)]
    early, late = await asyncio.gather(*readers)
    whole = await post
    assert early[0]["sequence_number"] == 1
    assert late[0]["sequence_number"] == 8
    assert early[-1]["type"] == late[-1]["type"] == "response.completed"
    assert early[7:] == late
    assert early == whole[1:]


async def test_the_sdk_retrieves_a_stream_from_a_sequence_number_and_cancels(harness_factory: Any) -> None:
    h = harness_factory([Reply(text="alpha beta gamma"), Reply(text="x " * 400, token_delay=0.01)])
    sdk = sdk_for(h)
    created: Any = await sdk.responses.create(model="fake-model", input="Go.", background=True, stream=True)
    events = [event async for event in created]
    response_id = events[0].response.id
    resumed: Any = await sdk.responses.retrieve(response_id, stream=True, starting_after=3)
    tail = [event async for event in resumed]
    assert [event.sequence_number for event in tail] == [e.sequence_number for e in events[4:]]
    assert tail[-1].response.output_text == "alpha beta gamma"

    slow = await sdk.responses.create(model="fake-model", input="Talk.", background=True)
    await poll(h, slow.id, lambda r: r["status"] == "in_progress")
    cancelled = await sdk.responses.cancel(slow.id)
    assert cancelled.status == "cancelled"
    assert (await sdk.responses.retrieve(slow.id)).status == "cancelled"
    again = await sdk.responses.cancel(slow.id)
    assert again.status == "cancelled"


async def test_cancel_mid_stream_aborts_the_provider_call_and_ends_the_readers(harness_factory: Any) -> None:
    h = harness_factory([Reply(text="word " * 300, token_delay=0.01)])
    post, response_id = await started_stream(
        h, model="fake-model", input="Talk.", background=True, stream=True
    )
    reader = asyncio.create_task(collect(h, f"/v1/responses/{response_id}?stream=true&starting_after=1"))
    await asyncio.sleep(0.05)
    answer = await h.client.post(f"/v1/responses/{response_id}/cancel")
    assert answer.json()["status"] == "cancelled"
    seen, whole = await asyncio.wait_for(asyncio.gather(reader, post), 5)
    assert all(event["type"] not in ("response.completed", "response.failed") for event in whole)
    assert seen == whole[2:]  # the stream ends, without a terminal event
    assert len(h.fake.abandoned) == 1  # the upstream stream was dropped midway
    assert (await h.client.get(f"/v1/responses/{response_id}")).json()["status"] == "cancelled"


async def test_a_background_response_finishes_after_its_client_went_away(harness_factory: Any) -> None:
    h = harness_factory([SLOW])
    body = {"model": "fake-model", "input": "Count.", "background": True, "stream": True}
    async with h.client.stream("POST", "/v1/responses", json=body) as response:
        first = await anext(sse_events(response))
    done = await poll(h, first["response"]["id"], finished)
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["text"] == SLOW.text


async def test_cancel_and_stream_errors_are_openais(harness_factory: Any) -> None:
    h = harness_factory([Reply(text="fg"), Reply(text="bg")])
    foreground = (await h.create(input="Hi")).json()
    refused = await h.client.post(f"/v1/responses/{foreground['id']}/cancel")
    assert refused.status_code == 400
    assert "background=true" in refused.json()["error"]["message"]
    streamed = await h.client.get(f"/v1/responses/{foreground['id']}?stream=true")
    assert streamed.status_code == 400
    assert streamed.json()["error"] == {
        "message": "This response cannot be streamed because it was not created with background=true.",
        "type": "invalid_request_error",
        "param": "stream",
        "code": None,
    }
    quiet = (await h.create(input="Hi", background=True)).json()
    done = await poll(h, quiet["id"], finished)
    not_streamed = await h.client.get(f"/v1/responses/{done['id']}?stream=true")
    assert "stream=true" in not_streamed.json()["error"]["message"]
    too_late = await h.client.post(f"/v1/responses/{done['id']}/cancel")
    assert too_late.status_code == 400
    assert "already completed" in too_late.json()["error"]["message"]
    missing = await h.client.post("/v1/responses/resp_missing/cancel")
    assert missing.status_code == 404
    bad_cursor = await h.client.get(f"/v1/responses/{done['id']}?stream=true&starting_after=x")
    assert bad_cursor.json()["error"]["param"] == "starting_after"
    unstored = await h.create(input="Hi", background=True, store=False)
    assert unstored.status_code == 400
    assert unstored.json()["error"]["param"] == "background"


async def test_queued_past_the_bound_is_a_429_and_a_queued_response_cancels_at_once(
    harness_factory: Any,
) -> None:
    h = harness_factory([], max_background=0, max_background_queue=2)
    first = (await h.create(input="1", background=True)).json()
    await h.create(input="2", background=True)
    refused = await h.create(input="3", background=True)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_background_responses"
    cancelled = (await h.client.post(f"/v1/responses/{first['id']}/cancel")).json()
    assert cancelled["status"] == "cancelled"
    assert (await h.client.get(f"/v1/responses/{first['id']}")).json()["status"] == "cancelled"
    assert (await h.create(input="3", background=True)).status_code == 200  # room again

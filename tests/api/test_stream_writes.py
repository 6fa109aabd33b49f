"""How many socket writes carry a stream: the events made from one read of the upstream go out in
one, the others each in their own as they come (the bytes are the same either way)."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
from starlette.types import Message, Receive, Scope, Send

from parley.testing.fake_upstream import Reply
from tests.api.test_responses_basic import parse_sse
from tests.conftest import Harness


async def test_the_events_of_one_upstream_read_go_out_in_one_write(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="one two three four five")])  # its frames arrive in one read
    writes: list[bytes] = []

    async def tapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def tap(message: Message) -> None:
            if message["type"] == "http.response.body":
                writes.append(message["body"])
            await send(message)

        await h.app(scope, receive, tap)

    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=tapped), base_url="http://t") as client:
        r = await client.post("/v1/responses", json={"model": "fake-model", "input": "hi", "stream": True})
    assert r.status_code == 200
    assert b"".join(writes) == r.content
    events = [e["type"] for e in parse_sse(r.content)]
    assert events.count("response.output_text.delta") == 5

    with_deltas = [w for w in writes if b"event: response.output_text.delta" in w]
    assert len(with_deltas) == 1, "the five deltas came from one read"
    assert with_deltas[0].count(b"event: response.output_text.delta") == 5
    assert with_deltas[0].startswith(b"event: response.output_item.added")
    # response.created is not held for the upstream: it went out alone, before the model answered
    assert writes[0].startswith(b"event: response.created")
    assert writes[0].count(b"event: ") == 1
    assert len(writes) < len(events)

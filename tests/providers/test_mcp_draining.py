"""An MCP answer closed early is read to its end first (briefly), so that its connection is reused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2

from parley.providers import mcp_client
from parley.providers.mcp_client import _DrainingTransport


class Chunks(httpx2.AsyncByteStream):
    def __init__(self, chunks: list[bytes], pause: float = 0.0) -> None:
        self.chunks, self.pause = chunks, pause
        self.sent: list[bytes] = []
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            if self.sent and self.pause:
                await asyncio.sleep(self.pause)
            self.sent.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


class Answering(httpx2.AsyncBaseTransport):
    def __init__(self, body: Chunks) -> None:
        self.body = body

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=self.body)


async def read_first_and_close(body: Chunks) -> None:
    client = httpx2.AsyncClient(transport=_DrainingTransport(Answering(body)))
    async with client, client.stream("POST", "http://mcp.test/mcp") as response:
        async for _ in response.aiter_raw():
            break  # as the SDK does once it holds the JSON-RPC response


async def test_the_rest_of_an_answer_closed_early_is_read_then_closed() -> None:
    body = Chunks([b"event: message\n", b"data: {}\n\n", b""])
    await read_first_and_close(body)
    assert body.sent == body.chunks
    assert body.closed


async def test_a_stream_that_goes_on_is_closed_after_a_moment() -> None:
    body = Chunks([b"a"] * 1000, pause=0.02)
    started = asyncio.get_running_loop().time()
    await read_first_and_close(body)
    assert body.closed
    assert asyncio.get_running_loop().time() - started < mcp_client.DRAIN_SECONDS + 0.5
    assert len(body.sent) < 1000

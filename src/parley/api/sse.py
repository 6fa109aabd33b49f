"""Server-sent events: framing (one pure function, one JSON encoding per event), and the streamed
answer that drops a client that stopped reading."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Send

log = logging.getLogger(__name__)

DONE = b"data: [DONE]\n\n"


def encode(event: dict[str, Any]) -> bytes:
    """``event: <type>\\ndata: <one-line json>\\n\\n`` (orjson never emits a newline)."""
    return encode_json(event["type"], orjson.dumps(event))


def encode_json(kind: str, data: bytes) -> bytes:
    """An event already encoded (a background stream's are, once, for the store and every reader)."""
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


async def encode_stream(events: AsyncIterator[dict[str, Any]]) -> AsyncGenerator[bytes, None]:
    async for event in events:
        yield encode(event)
    yield DONE


async def encode_json_stream(events: AsyncIterator[tuple[str, bytes]]) -> AsyncGenerator[bytes, None]:
    async for kind, data in events:
        yield encode_json(kind, data)
    yield DONE


SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class EventStream(StreamingResponse):
    """An SSE answer whose client must keep reading. Events are pulled one at a time and each waits
    for the socket (the server's write buffer is bounded): a client that stops reading stops the
    stream where it is, and so the reading of the provider behind it, instead of having it buffered.
    One that has not taken an event for ``stall_timeout`` seconds is dropped: ``events`` is closed
    (the response it was streaming is recorded as failed), after ``on_stall`` is told."""

    def __init__(
        self,
        events: AsyncGenerator[bytes, None],
        stall_timeout: float | None,
        on_stall: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(events, media_type="text/event-stream", headers=SSE_HEADERS)
        self._events = events
        self._stall_timeout = stall_timeout
        self._on_stall = on_stall

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        try:
            async for chunk in self._events:
                async with asyncio.timeout(self._stall_timeout):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except TimeoutError:
            log.warning("dropped a client that read nothing for %s s", self._stall_timeout)
            if self._on_stall is not None:
                self._on_stall(self._stall_timeout or 0.0)
            await self._events.aclose()
            return  # the response is left unfinished: the server closes the connection
        await send({"type": "http.response.body", "body": b"", "more_body": False})

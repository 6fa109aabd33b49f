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


class _Watchdog:
    """Cancels the task writing a stream whose current write has waited ``timeout`` seconds. A write
    costs two attribute stores; the watch is one timer, a quarter of the timeout apart (an
    ``asyncio.timeout`` around each write cost about a tenth of a paced stream's CPU)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.fired = False
        self.waiting_since: float | None = None
        """When the write under way began; None between writes."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._timer = self._loop.call_later(timeout / 4, self._check)

    def _check(self) -> None:
        since = self.waiting_since
        if since is not None and self._loop.time() - since >= self.timeout and self._task is not None:
            self.fired = True
            self._task.cancel()
            return
        self._timer = self._loop.call_later(self.timeout / 4, self._check)

    def stop(self) -> None:
        self._timer.cancel()

    def own_cancel(self) -> bool:
        """True when the task's cancellation was this watchdog's, which it then takes back."""
        if self.fired and self._task is not None:
            self._task.uncancel()
        return self.fired


class EventStream(StreamingResponse):
    """An SSE answer whose client must keep reading. Events are pulled one at a time and each waits
    for the socket (the server's write buffer is bounded): a client that stops reading stops the
    stream where it is, and so the reading of the provider behind it, instead of having it buffered.
    One whose socket has taken nothing for ``stall_timeout`` seconds is dropped: ``events`` is
    closed (the response it was streaming is recorded as failed), after ``on_stall`` is told."""

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
        if not self._stall_timeout:
            async for chunk in self._events:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        else:
            watchdog = _Watchdog(self._stall_timeout)
            try:
                await self._watched(send, watchdog)
            except asyncio.CancelledError:
                if not watchdog.own_cancel():
                    raise
                await self._stalled()
                return  # the response is left unfinished: the server closes the connection
            finally:
                watchdog.stop()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watched(self, send: Send, watchdog: _Watchdog) -> None:
        loop = asyncio.get_running_loop()
        async for chunk in self._events:
            watchdog.waiting_since = loop.time()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            watchdog.waiting_since = None

    async def _stalled(self) -> None:
        log.warning("dropped a client that read nothing for %s s", self._stall_timeout)
        if self._on_stall is not None:
            self._on_stall(self._stall_timeout or 0.0)
        await self._events.aclose()

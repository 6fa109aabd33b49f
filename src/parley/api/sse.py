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

from parley.providers.downstream import downstream

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
    """Cancels the task writing a stream whose current write has waited ``timeout`` seconds, after
    telling ``on_stall``. A write costs two attribute stores; the watch is one timer, a quarter of
    the timeout apart (an ``asyncio.timeout`` around each write cost about a tenth of a paced
    stream's CPU)."""

    def __init__(self, timeout: float, on_stall: Callable[[float], None] | None) -> None:
        self.timeout = timeout
        self.fired = False
        self.waiting_since: float | None = None
        """When the write under way began; None between writes."""
        self._on_stall = on_stall
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._timer = self._loop.call_later(timeout / 4, self._check)

    def _check(self) -> None:
        since = self.waiting_since
        if since is not None and self._loop.time() - since >= self.timeout and self._task is not None:
            self.fired = True
            if self._on_stall is not None:
                self._on_stall(self.timeout)  # before the cancel reaches the pipeline and ends it
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


class _Writer:
    """The client's socket for one stream (a ``Downstream``). An event is written as it comes,
    unless a read of the upstream holds the stream: then that read's events go in one write, when
    the reader releases them before its next wait."""

    def __init__(self, send: Send, watchdog: _Watchdog | None) -> None:
        self.owner = asyncio.current_task()
        self._send = send
        self._watchdog = watchdog
        self._loop = asyncio.get_running_loop()
        self._held: list[bytes] = []
        self._holding = False

    def hold(self) -> None:
        self._holding = True

    def let_go(self) -> None:
        self._holding = False

    async def release(self) -> None:
        self._holding = False
        if self._held:
            body = b"".join(self._held)
            self._held.clear()
            await self._write(body)

    async def event(self, chunk: bytes) -> None:
        if self._holding:
            self._held.append(chunk)
            return
        if self._held:
            chunk = b"".join((*self._held, chunk))
            self._held.clear()
        await self._write(chunk)

    async def _write(self, body: bytes) -> None:
        watchdog = self._watchdog
        if watchdog is None:
            await self._send({"type": "http.response.body", "body": body, "more_body": True})
            return
        watchdog.waiting_since = self._loop.time()
        await self._send({"type": "http.response.body", "body": body, "more_body": True})
        watchdog.waiting_since = None


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
        # The first event is made before the status goes out: what fails before it (a database
        # that cannot be reached) is still answered with its own status, not a broken stream.
        first = await anext(self._events, None)
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        watchdog = _Watchdog(self._stall_timeout, self._on_stall) if self._stall_timeout else None
        writer = _Writer(send, watchdog)
        token = downstream.set(writer)
        try:
            if first is not None:
                await writer.event(first)
            async for chunk in self._events:
                await writer.event(chunk)
            await writer.release()
        except asyncio.CancelledError:
            if watchdog is None or not watchdog.own_cancel():
                raise
            log.warning("dropped a client that read nothing for %s s", self._stall_timeout)
            await self._events.aclose()
            return  # the response is left unfinished: the server closes the connection
        finally:
            downstream.reset(token)
            if watchdog is not None:
                watchdog.stop()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

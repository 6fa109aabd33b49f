"""At most N calls to one provider at a time; the others wait their turn, in order.

A local inference server serves a fixed number of sequences at once (vLLM's ``--max-num-seqs``,
Ollama's ``OLLAMA_NUM_PARALLEL``) and queues or refuses the rest; a provider's
``max_concurrency`` keeps Parley's side of that queue, where it costs nothing and refuses no one.

It is a transport, so it sits on the one outbound seam and counts every call to the provider
(chat, embeddings, passthrough). A call holds its slot from the request until its answer is
closed: read to its end, closed early by its reader, or abandoned when the task reading it is
cancelled (a client that went away); a call cancelled while it waits never takes one.

A call made by a task that already holds a slot (a reasoning summary written while the answer it
summarizes still streams) goes ahead without a second one: a response never waits on itself,
which at ``max_concurrency = 1`` would be forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2


class ConcurrencyLimit(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {limit}")
        self._inner = inner
        self._slots = asyncio.Semaphore(limit)
        self._holders: set[asyncio.Task[Any] | None] = set()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        task = asyncio.current_task()
        if task in self._holders:
            return await self._inner.handle_async_request(request)
        await self._slots.acquire()
        self._holders.add(task)
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self._release(task)
            raise
        if not isinstance(response.stream, httpx2.AsyncByteStream):  # already whole: nothing to hold
            self._release(task)
            return response
        response.stream = _Holding(response.stream, lambda: self._release(task))
        return response

    def _release(self, task: asyncio.Task[Any] | None) -> None:
        self._holders.discard(task)
        self._slots.release()

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Holding(httpx2.AsyncByteStream):
    """An answer's body that gives its slot back when it is closed, once."""

    def __init__(self, inner: httpx2.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()

"""A provider's ``max_concurrency``: calls past it wait, and every way a call ends gives its slot
back (closed, read to the end, its reader cancelled, cancelled while it waits)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import httpx2
import pytest

from parley.providers.concurrency import ConcurrencyLimit
from parley.providers.endpoint import Endpoint
from parley.providers.openai_compat import OpenAICompatProvider
from parley.testing.fake_upstream import FakeUpstream, Reply

BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


def limited(limit: int) -> tuple[OpenAICompatProvider, FakeUpstream]:
    fake = FakeUpstream(lambda body: Reply(text="one two three"))
    transport = ConcurrencyLimit(httpx2.ASGITransport(app=fake.app), limit)
    return OpenAICompatProvider("limited", Endpoint("http://upstream.test/v1", transport)), fake


async def opened(provider: OpenAICompatProvider) -> AsyncGenerator[dict[str, Any], None]:
    """A stream whose answer has arrived and is held open (its first chunk read)."""
    stream = provider.stream_chat(BODY)
    assert isinstance(stream, AsyncGenerator)
    await anext(stream)
    return stream


async def opened_elsewhere(provider: OpenAICompatProvider) -> AsyncGenerator[dict[str, Any], None]:
    """The same, opened by a task of its own, as each response's call is."""
    return await asyncio.create_task(opened(provider))


async def waits(task: asyncio.Task[Any]) -> bool:
    await asyncio.sleep(0.1)
    return not task.done()


async def test_a_third_call_waits_while_two_streams_are_open() -> None:
    provider, fake = limited(2)
    first, second = await opened_elsewhere(provider), await opened_elsewhere(provider)
    third = asyncio.create_task(opened(provider))
    assert await waits(third)
    assert len(fake.requests) == 2  # it waits here, not at the provider
    await first.aclose()
    await asyncio.wait_for(third, 2)
    assert len(fake.requests) == 3
    await second.aclose()
    await (await third).aclose()


async def test_a_stream_read_to_its_end_gives_its_slot_back() -> None:
    provider, _ = limited(1)
    for _ in range(3):
        chunks = await asyncio.wait_for(_read_all(provider), 2)
        assert chunks


async def _read_all(provider: OpenAICompatProvider) -> list[dict[str, Any]]:
    return [chunk async for chunk in provider.stream_chat(BODY)]


async def test_a_reader_cancelled_mid_stream_gives_its_slot_back() -> None:
    """As when a client goes away: the task reading the provider's stream is cancelled."""
    provider, _ = limited(1)
    reading = asyncio.Event()

    async def slow_reader() -> None:
        async for _chunk in provider.stream_chat(BODY):
            reading.set()
            await asyncio.sleep(10)

    reader = asyncio.create_task(slow_reader())
    await asyncio.wait_for(reading.wait(), 2)
    next_call = asyncio.create_task(opened(provider))
    assert await waits(next_call)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await (await asyncio.wait_for(next_call, 2)).aclose()


async def test_a_call_cancelled_while_it_waits_takes_no_slot() -> None:
    provider, _ = limited(1)
    first = await opened(provider)
    waiting = asyncio.create_task(opened(provider))
    assert await waits(waiting)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await first.aclose()
    await (await asyncio.wait_for(opened(provider), 2)).aclose()


async def test_a_call_from_a_task_holding_a_slot_does_not_wait_for_itself() -> None:
    """A reasoning summary asked while the answer it summarizes still streams, at a limit of 1."""
    provider, fake = limited(1)
    answer = await opened(provider)
    async with asyncio.timeout(2):  # in this task, as the summary call is
        summary = await _read_all(provider)
    assert summary
    assert len(fake.requests) == 2
    await answer.aclose()
    other = asyncio.create_task(opened(provider))  # another task: the one slot is free again
    await (await asyncio.wait_for(other, 2)).aclose()


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrencyLimit(httpx2.ASGITransport(app=FakeUpstream().app), 0)

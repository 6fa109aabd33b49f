"""The upstream SSE reader, fed byte streams cut at awkward places."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from parley.providers.downstream import downstream, held_here
from parley.providers.sse import iter_sse_data


async def events_of(*pieces: bytes) -> list[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    return [data async for data in iter_sse_data(chunks())]


@pytest.mark.parametrize(
    "pieces",
    [
        (b'data: {"a": 1}\n\ndata: [DONE]\n\n',),
        (b'data: {"a"', b": 1}\n", b"\ndata: [DO", b"NE]\n\n"),
        (b'data: {"a": 1}\r\n\r\ndata: [DONE]\r\n\r\n',),
        (b': keep-alive\n\nevent: chunk\ndata: {"a": 1}\n\n', b"data: [DONE]"),
    ],
)
async def test_events_survive_any_chunking(pieces: tuple[bytes, ...]) -> None:
    assert await events_of(*pieces) == [b'{"a": 1}', b"[DONE]"]


async def test_multi_line_data_is_joined() -> None:
    assert await events_of(b"data: first\ndata: second\n\n") == [b"first\nsecond"]


class RecordedDownstream:
    """A stream's writer as the reader sees it: what it was told, in order."""

    def __init__(self) -> None:
        self.owner: asyncio.Task[object] | None = asyncio.current_task()
        self.holding = False
        self.log: list[str] = []

    def hold(self) -> None:
        self.holding = True
        self.log.append("hold")

    async def release(self) -> None:
        self.holding = False
        self.log.append("release")

    def let_go(self) -> None:
        self.holding = False
        self.log.append("let go")


async def test_a_reads_events_are_held_together_and_released_before_the_next_wait() -> None:
    target = RecordedDownstream()

    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b"data: 1\n\ndata: 2\n\n", b"data: 3\n\n"):
            assert not target.holding, "the reader waits for bytes while events are held"
            target.log.append("read")
            yield piece

    token = downstream.set(target)
    try:
        async for data in iter_sse_data(chunks()):
            target.log.append(data.decode())
    finally:
        downstream.reset(token)
    assert target.log == ["read", "hold", "1", "2", "release", "read", "hold", "3", "release", "let go"]


async def test_a_reader_closed_early_stops_holding() -> None:
    target = RecordedDownstream()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"data: 1\n\ndata: 2\n\n"

    token = downstream.set(target)
    try:
        reader = iter_sse_data(chunks())
        assert await anext(reader) == b"1"
        await reader.aclose()
    finally:
        downstream.reset(token)
    assert target.log == ["hold", "let go"]
    assert not target.holding


async def test_only_the_task_writing_the_stream_holds_it() -> None:
    """A task the pipeline starts inherits the context, not the stream: its reads hold nothing."""
    target = RecordedDownstream()
    token = downstream.set(target)
    try:
        assert await asyncio.create_task(events_of(b"data: 1\n\n")) == [b"1"]
        assert held_here() is target
    finally:
        downstream.reset(token)
    assert target.log == []

"""The upstream SSE reader, fed byte streams cut at awkward places."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

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

"""Server-sent events framing: one pure function, one JSON encoding per event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def encode(event: dict[str, Any]) -> bytes:
    """``event: <type>\\ndata: <one-line json>\\n\\n`` (orjson never emits a newline)."""
    return encode_json(event["type"], orjson.dumps(event))


def encode_json(kind: str, data: bytes) -> bytes:
    """An event already encoded (a background stream's are, once, for the store and every reader)."""
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


async def encode_stream(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for event in events:
        yield encode(event)
    yield DONE


async def encode_json_stream(events: AsyncIterator[tuple[str, bytes]]) -> AsyncIterator[bytes]:
    async for kind, data in events:
        yield encode_json(kind, data)
    yield DONE

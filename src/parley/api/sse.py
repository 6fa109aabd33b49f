"""Server-sent events framing: one pure function, one JSON encoding per event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def encode(event: dict[str, Any]) -> bytes:
    """``event: <type>\\ndata: <one-line json>\\n\\n`` (orjson never emits a newline)."""
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


async def encode_stream(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for event in events:
        yield encode(event)
    yield DONE

"""Chat request bodies whose long history is encoded once, not on every model call.

A turn on a conversation of a thousand items sends those thousand as chat messages on every
model call, and encoding them was the largest part of what such a turn costs beyond a short one
(``benchmarks/bench_conversation.py``). The engine keeps the JSON of a history's messages beside
their conversion (``engine/history.py``) and hands the provider a ``PreEncoded`` list: to
everything that reads it (the provider, the fakes in the tests, truncation) an ordinary list of
messages, whose run ``[start:stop]`` is also held as JSON. ``encode_body`` splices that JSON in
instead of encoding those messages again; the bytes are exactly those of encoding the whole.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from parley.providers.base import Json


class PreEncoded(list[Json]):
    """Messages of which ``self[start:stop]`` is also held encoded (``encode_messages``). Slices and
    copies are plain lists: only this very list vouches for the JSON."""

    def __init__(self, messages: Iterable[Json], start: int, stop: int, encoded: bytes) -> None:
        super().__init__(messages)
        self.start, self.stop, self.encoded = start, stop, encoded


def encode_messages(messages: list[Json]) -> bytes:
    """The messages' JSON, comma-joined without brackets: runs of them join with a comma."""
    return orjson.dumps(messages)[1:-1]


def encode_body(body: Json) -> bytes:
    messages = body.get("messages")
    if type(messages) is not PreEncoded or messages.stop <= messages.start:
        return orjson.dumps(body)
    spliced = [*messages[: messages.start], orjson.Fragment(messages.encoded), *messages[messages.stop :]]
    return orjson.dumps({**body, "messages": spliced})

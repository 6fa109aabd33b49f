"""Persistence as a consumer of the event stream, never inside the loop.

A stored response is marked ``in_progress`` when it is created (queued, not
awaited), then written whole, with this turn's input items, before the
terminal event is passed on: a client that sees ``response.completed`` can
continue the response at once. A stream abandoned midway is recorded as failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from parley.engine.emit import TERMINAL_EVENTS
from parley.engine.prepare import Turn
from parley.storage.base import ResponseStore
from parley.wire.events import Event


async def persist(events: AsyncIterator[Event], turn: Turn, store: ResponseStore) -> AsyncIterator[Event]:
    if not turn.request.store:
        async for event in events:
            yield event
        return
    finished = False
    try:
        async for event in events:
            kind = event["type"]
            if kind == "response.created":
                store.begin(event["response"], turn.owner)
            elif kind in TERMINAL_EVENTS:
                await store.save(event["response"], turn.input_items, turn.owner)
                finished = True
            yield event
    finally:
        if not finished:
            interrupted = {
                **turn.response,
                "output": list(turn.response["output"]),
                "status": "failed",
                "error": {
                    "code": "server_error",
                    "message": "The client went away before the response finished.",
                },
            }
            store.begin(interrupted, turn.owner)

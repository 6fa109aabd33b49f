"""Persistence as a consumer of the event stream, never inside the loop.

A stored response is written once, whole, with this turn's input items, before
the terminal event is passed on: a client that sees ``response.completed`` can
continue the response at once, and a crash leaves no record rather than a
half-written one; while it streams, ``LiveResponses`` answers for it (and, for other worker
processes, a row marked as this process's, written as it begins). A request answered whole
that the caller's mistake failed before any output is not stored (``refused``). (One write,
not an extra ``in_progress`` row as well: a second write per response measured
as several percent of the CPU.) A stream abandoned midway is recorded as failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from parley.engine.emit import TERMINAL_EVENTS, Emitter
from parley.engine.live import LiveResponses
from parley.engine.prepare import Turn
from parley.errors import ClientError, DatabaseUnavailable
from parley.storage.base import ResponseStore
from parley.wire.events import Event


async def persist(
    events: AsyncIterator[Event], turn: Turn, store: ResponseStore, live: LiveResponses
) -> AsyncIterator[Event]:
    if not turn.request.store:
        async for event in events:
            yield event
        return
    finished = False
    live.add(turn.response["id"], turn.owner, turn.snapshot)
    if live.worker is not None and _id_told_early(turn):  # other worker processes read its row
        await store.begin(turn.snapshot(), turn.owner, live.worker)
    try:
        async for event in events:
            if event["type"] in TERMINAL_EVENTS:
                if not refused(turn, event["response"]):
                    event = await _saved(event, turn, store)
                live.discard(turn.response["id"])
                finished = True
            yield event
    finally:
        live.discard(turn.response["id"])
        if not finished:
            store.record(interrupted(turn), turn.owner)


async def _saved(event: Event, turn: Turn, store: ResponseStore) -> Event:
    """The terminal event, once its response is stored. A stream whose database was lost ends
    ``response.failed`` in its place, saying so (its caller already holds the id and the output:
    it must not read ``completed`` of what it cannot retrieve); a request answered whole gets the
    503 itself."""
    try:
        await store.save(event["response"], turn.input_items, turn.owner, turn.conversation_id)
    except DatabaseUnavailable as exc:
        if turn.answered_whole:
            raise
        error = {"code": "server_error", "message": f"The response could not be stored: {exc}"}
        failed = {**event["response"], "status": "failed", "error": error}
        return Emitter(failed, event["sequence_number"]).lifecycle("failed")
    return event


def _id_told_early(turn: Turn) -> bool:
    """Its caller learns its id before its end (``response.created``), and may ask another worker
    for it meanwhile. A background response has its row from the queue already."""
    return not turn.answered_whole and not turn.request.background


def refused(turn: Turn, response: dict[str, Any]) -> bool:
    """A request answered whole that failed as the caller's mistake (an unknown model, an input too
    long) before any output: OpenAI stores nothing for a request it refuses, and a stored failure
    would only be junk to list. A streamed one told the caller its id, and is kept."""
    return turn.answered_whole and isinstance(turn.failure, ClientError) and not response["output"]


def interrupted(turn: Turn) -> dict[str, Any]:
    """The response of a turn stopped before its end: cancelled (a background response), or failed
    (its client went away, or the server is shutting down)."""
    snapshot = turn.snapshot()
    if turn.cancelled:
        return {**snapshot, "status": "cancelled"}
    if turn.stalled_for is not None:
        reason = f"The client read nothing for {turn.stalled_for:g} s (stall_timeout) and was dropped"
    elif turn.request.background:
        reason = "The server shut down"
    else:
        reason = "The client went away"
    error = {"code": "server_error", "message": f"{reason} before the response finished."}
    return {**snapshot, "status": "failed", "error": error}

"""The one way a turn is run, whatever carries it: an SSE stream, a JSON answer, a WebSocket, a
background worker.

``start_turn`` prepares the turn (what can fail before the first event fails here, as an error
the transport answers with) and composes the pipeline once: the loop, persistence, the
conversation's lock, and the caller's view of hosted items. A transport only iterates ``events``,
or awaits ``response()``; none composes the pipeline itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from parley.engine.conversation import in_conversation, started
from parley.engine.include import hidden_fields, public_events
from parley.engine.persist import persist
from parley.engine.prepare import EngineDeps, Turn, prepare_turn
from parley.engine.turn import drain, run_turn
from parley.wire.events import Event
from parley.wire.request import CreateResponseRequest


@dataclass
class TurnRun:
    turn: Turn
    events: AsyncIterator[Event]
    """Stamped events as the caller may see them, ending with one terminal event."""

    async def response(self) -> dict[str, Any]:
        """The final response, the turn run to its end; a failed turn raises what it failed with."""
        self.turn.answered_whole = True
        response = await drain(self.events)
        if self.turn.failure is not None:
            raise self.turn.failure
        return response


async def start_turn(request: CreateResponseRequest, deps: EngineDeps, owner: str) -> TurnRun:
    return await run_prepared(await prepare_turn(request, deps, owner), deps)


async def run_prepared(turn: Turn, deps: EngineDeps) -> TurnRun:
    """The pipeline of a turn already prepared (a background response is prepared when it is queued)."""
    request = turn.request
    events = persist(run_turn(turn), turn, deps.responses, deps.live)
    if turn.conversation_id is not None:
        # The first event awaited here: a locked or vanished conversation fails as an error.
        events = await started(in_conversation(events, turn, deps.conversations, deps.conversation_locks))
    if turn.toolset.hosted():
        events = public_events(events, hidden_fields(request.include))
    return TurnRun(turn, events)

"""The agentic loop: the one code path behind streaming and non-streaming responses.

``run_turn`` is an async generator of stamped events: ``response.created``,
``response.in_progress``, each output item's events, then exactly one terminal
event. Once it has started it never raises: a provider or tool failure becomes
``response.failed`` and a limit becomes ``response.incomplete``. Non-streaming
callers ``drain`` the same generator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from parley.engine.assemble import Assembler
from parley.engine.chat_request import chat_body
from parley.engine.emit import TERMINAL_EVENTS, Emitter
from parley.engine.messages import to_chat_messages
from parley.engine.prepare import Turn
from parley.engine.usage import Usage
from parley.errors import LimitReached, ParleyError, UpstreamStatus
from parley.wire.events import Event

log = logging.getLogger(__name__)

_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


async def run_turn(turn: Turn) -> AsyncIterator[Event]:
    emit = Emitter(turn.response)
    usage = Usage()
    yield emit.lifecycle("created")
    yield emit.lifecycle("in_progress")
    try:
        async for event in _model_steps(turn, usage):
            yield emit(event)
        status = "completed"
    except LimitReached as exc:
        status = "incomplete"
        turn.response["incomplete_details"] = {"reason": exc.reason}
    except ParleyError as exc:
        status = "failed"
        turn.failure = exc
        turn.response["error"] = {"code": response_error_code(exc), "message": exc.message}
    except Exception as exc:  # a bug must still end the stream properly and be logged
        log.exception("response %s crashed", turn.response["id"])
        status = "failed"
        turn.failure = ParleyError(f"Internal error: {type(exc).__name__}", code="server_error")
        turn.response["error"] = {"code": "server_error", "message": turn.failure.message}
    turn.response["status"] = status
    turn.response["usage"] = usage.as_wire()
    if status == "completed":
        turn.response["completed_at"] = int(time.time())
    yield emit.lifecycle(status)


def response_error_code(exc: ParleyError) -> str:
    """``Response.error.code`` is a closed enum in OpenAI's schema; Parley's own code goes in HTTP bodies."""
    if isinstance(exc, UpstreamStatus) and exc.status == 429:
        return "rate_limit_exceeded"
    return "server_error"


async def _model_steps(turn: Turn, usage: Usage) -> AsyncIterator[Event]:
    """Call the model; later, built-in tools will loop back here until no server-side call is left."""
    request = turn.request
    messages = to_chat_messages(request.instructions, turn.context, turn.toolset)
    body = chat_body(request, turn.model, messages, turn.toolset, request.max_output_tokens)
    assembler = Assembler(turn.toolset, turn.seal)
    try:
        async for chunk in turn.provider.stream_chat(body):
            for event in assembler.feed(chunk):
                yield event
    except ParleyError:
        for event in assembler.abort():
            yield event
        raise
    for event in assembler.finish():
        yield event
    usage.add(assembler.usage)
    reason = _INCOMPLETE_REASONS.get(assembler.finish_reason or "")
    if reason is not None:
        raise LimitReached(reason)


async def drain(events: AsyncIterator[Event]) -> dict[str, object]:
    """Run a turn to its end and return the final response object."""
    final: dict[str, object] | None = None
    async for event in events:
        if event["type"] in TERMINAL_EVENTS:
            final = event["response"]
    assert final is not None, "run_turn always ends with a terminal event"
    return final

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
from collections.abc import AsyncIterator, Iterator
from typing import Any

from parley.engine.assemble import Assembler
from parley.engine.calls import CLIENT_CALLS, CallIds, PendingHostedCall
from parley.engine.chat_request import chat_body
from parley.engine.compaction import compact_in_turn, needs_compaction
from parley.engine.emit import TERMINAL_EVENTS, Emitter
from parley.engine.hosted import (
    AWAITING_CALLER,
    CallBudget,
    held_back,
    open_groups,
    run_hosted,
    sent_items,
)
from parley.engine.limits import check_deadline, tool_call_limit, until
from parley.engine.messages import drop_oldest_turn, to_chat_messages
from parley.engine.prepare import Turn
from parley.engine.reasoning_summary import with_summaries
from parley.engine.server_fit import Expectation, fit_to_server
from parley.engine.structured_output import refused_schema
from parley.engine.unknown_model import model_not_found, names_unknown_model
from parley.engine.usage import Usage
from parley.engine.usage_count import counted_usage
from parley.errors import (
    ContextLengthExceeded,
    LimitReached,
    ParleyError,
    UpstreamProtocolError,
    UpstreamStatus,
)
from parley.tools.citations import chain
from parley.wire.events import Event
from parley.wire.items import Item

log = logging.getLogger(__name__)

_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


async def run_turn(turn: Turn) -> AsyncIterator[Event]:
    emit = turn.emitter = Emitter(turn.response, turn.first_sequence)
    usage = Usage()
    if turn.first_sequence == 0:
        yield emit.lifecycle("created")
    turn.response["status"] = "in_progress"
    yield emit.lifecycle("in_progress")
    turn.deadline = turn.limits.deadline()
    try:
        async for event in _model_steps(turn, usage):  # each wait inside is bounded by turn.deadline
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
    if isinstance(exc, ContextLengthExceeded):
        return "invalid_prompt"
    return "server_error"


MAX_MODEL_CALLS = 64
"""A runaway guard: no legitimate response needs more model calls than this."""


async def _model_steps(turn: Turn, usage: Usage) -> AsyncIterator[Event]:
    """Model call, then the hosted tools it asked for, then the model again, until none is left."""
    if turn.compact_now:
        async for event in until(turn.deadline, compact_in_turn(turn, usage)):
            yield event
        return
    budget = CallBudget(tool_call_limit(turn.request, turn.limits))
    async for event in open_groups(turn, budget):
        yield event
    for step in range(MAX_MODEL_CALLS):
        items: list[Item] = []
        hosted: list[PendingHostedCall] = []
        call = _model_call(turn, usage, items, hosted, first_step=step == 0)
        async for event in with_summaries(turn, usage, call):
            yield event
        start = len(turn.context)
        turn.context.extend(sent_items(items, hosted))
        allowed = hosted[: budget.take(len(hosted))]
        if allowed:
            async for event in run_hosted(turn, allowed, budget):
                yield event
        if len(allowed) < len(hosted):
            for event in held_back(turn, hosted[len(allowed) :]):
                yield event
            raise LimitReached("max_tool_calls")
        if not hosted or any(item["type"] in CLIENT_CALLS for item in items):
            return
        if any(item["type"] in AWAITING_CALLER for item in turn.context[start:]):
            return
    raise ParleyError(
        f"The model kept calling tools past {MAX_MODEL_CALLS} model calls.", code="server_error"
    )


async def _model_call(
    turn: Turn, usage: Usage, items: list[Item], hosted: list[PendingHostedCall], first_step: bool
) -> AsyncIterator[Event]:
    """One streamed chat completion, assembled into output items (appended to ``items``) and the
    hosted tool calls to run next (appended to ``hosted``)."""
    request = turn.request
    check_deadline(turn.deadline)
    max_tokens = _tokens_left(turn, usage)
    messages = _messages(turn)
    if needs_compaction(turn, messages):
        async for event in until(turn.deadline, compact_in_turn(turn, usage)):
            yield event
        messages = _messages(turn)
    limit = "max_completion_tokens" if turn.provider.capabilities.max_completion_tokens else "max_tokens"
    body = chat_body(request, turn.model, messages, turn.toolset, max_tokens, first_step, limit_field=limit)
    if turn.vendor_parameters:  # Parley's own fields win over a vendor extension of the same name
        body = {**turn.vendor_parameters, **body}
    body, expected = fit_to_server(body, turn.provider.capabilities)
    if expected is None or expected.enforced:
        assembler = _assembler(turn)
        async for event in _answer(turn, body, assembler, usage):
            yield event
        if expected is not None:  # the server was trusted to enforce what the request requires
            _check_enforced(turn, expected, assembler)
    else:
        assembler, events = await _checked_answer(turn, body, expected, usage)
        for event in events:
            yield event
    items.extend(assembler.items)
    hosted.extend(assembler.hosted_calls)
    reason = _INCOMPLETE_REASONS.get(assembler.finish_reason or "")
    if reason is not None:
        raise LimitReached(reason)


def _check_enforced(turn: Turn, expected: Expectation, assembler: Assembler) -> None:
    """An answer the server was asked to make right, checked at its end: one that is not fails the
    response rather than pass for what the request required."""
    problem = _problem(expected, assembler)
    if problem is not None:
        raise expected.unenforced(turn.provider.capabilities.server, problem)


def _problem(expected: Expectation, assembler: Assembler) -> str | None:
    cut = assembler.finish_reason == "length"
    return expected.problem(assembler.items, len(assembler.hosted_calls), cut=cut)


def _tokens_left(turn: Turn, usage: Usage) -> int | None:
    """What is left of ``max_output_tokens`` after the response's earlier model calls."""
    if turn.request.max_output_tokens is None:
        return None
    left = turn.request.max_output_tokens - usage.output_tokens
    if left <= 0:
        raise LimitReached("max_output_tokens")
    return left


async def _answer(
    turn: Turn, body: dict[str, Any], assembler: Assembler, usage: Usage
) -> AsyncIterator[Event]:
    """The events of one model call; its usage added, counted when the provider reported none."""
    try:
        async for chunk in until(turn.deadline, _fitting_stream(turn, body)):
            for event in _feed(assembler, chunk, turn.provider.name):
                yield event
    except ParleyError:
        for event in assembler.abort():
            yield event
        raise
    for event in assembler.finish():
        yield event
    if assembler.usage is None:
        assembler.usage = await counted_usage(turn.provider, turn.model, body, assembler.items)
    usage.add(assembler.usage)


async def _checked_answer(
    turn: Turn, body: dict[str, Any], expected: Expectation, usage: Usage
) -> tuple[Assembler, list[Event]]:
    """A model call whose answer is checked before any of it is let out (the provider's server cannot
    enforce what the request requires), asked once more with the problem stated."""

    async def attempt(body: dict[str, Any]) -> tuple[Assembler, list[Event], str | None]:
        assembler = _assembler(turn)
        events = [event async for event in _answer(turn, body, assembler, usage)]
        return assembler, events, _problem(expected, assembler)

    assembler, events, problem = await attempt(body)
    if problem is not None:
        again = expected.retry(body, assembler.items, problem)
        for limit in ("max_tokens", "max_completion_tokens"):  # the first answer's tokens count too
            if limit in again:
                again[limit] = _tokens_left(turn, usage)
        assembler, events, problem = await attempt(again)
        if problem is not None:
            raise expected.failure(turn.provider.capabilities.server, problem)
    return assembler, events


def _messages(turn: Turn) -> list[dict[str, Any]]:
    """The context as chat messages; its stored head converted once per history (``HistoryMessages``)."""
    capabilities = turn.provider.capabilities
    reasoning = capabilities.reasoning_field if capabilities.reasoning_in_history else None
    stored, items, after = turn.context[: turn.history], turn.context, None
    if stored and turn.histories is not None:
        key = (turn.owner, stored[0].get("id"))
        after = turn.histories.convert(key, stored, turn.toolset, reasoning)
        items = turn.context[turn.history :]
    return to_chat_messages(
        turn.request.instructions, items, turn.toolset, reasoning_field=reasoning, after=after
    )


def _assembler(turn: Turn) -> Assembler:
    """An assembler for the next model call, reading its answer for the hosted tools' citations."""
    annotators = [tool.annotator(turn.context) for tool in turn.toolset.hosted()]
    return Assembler(
        turn.toolset,
        turn.seal,
        think_tags=turn.provider.capabilities.think_tags,
        annotator=chain([a for a in annotators if a is not None]),
        call_ids=CallIds(lambda: _call_ids(turn.context)),
    )


def _call_ids(context: list[Item]) -> Iterator[str]:
    """The call ids the chain has used so far (its history and this response's earlier steps)."""
    for item in context:
        if item["type"] in CLIENT_CALLS and item.get("call_id"):
            yield item["call_id"]


async def _fitting_stream(turn: Turn, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """The provider's chunks. With ``truncation: "auto"``, an input the provider finds too long loses
    its oldest turns until it fits (system messages and the latest turn are always kept)."""
    while True:
        stream = turn.provider.stream_chat(body)
        try:
            first = await anext(stream, None)
        except ContextLengthExceeded:
            trimmed = drop_oldest_turn(body["messages"]) if turn.request.truncation == "auto" else None
            if trimmed is None:
                raise
            body = {**body, "messages": trimmed}
            continue
        except UpstreamStatus as exc:
            if names_unknown_model(exc):
                raise model_not_found(str(turn.response["model"]), turn.provider.name) from exc
            refusal = refused_schema(exc, turn.request)
            if refusal is None:
                raise
            raise refusal from exc
        if first is not None:
            yield first
            async for chunk in stream:
                yield chunk
        return


def _feed(assembler: Assembler, chunk: dict[str, Any], provider: str) -> list[Event]:
    """A chunk whose shape the assembler cannot read is the provider's protocol error, not a crash."""
    try:
        return assembler.feed(chunk)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise UpstreamProtocolError(
            f"Provider '{provider}' sent a chunk that is not a chat.completion.chunk ({exc}): {chunk!r:.500}"
        ) from exc


async def drain(events: AsyncIterator[Event]) -> dict[str, object]:
    """Run a turn to its end and return the final response object."""
    final: dict[str, object] | None = None
    async for event in events:
        if event["type"] in TERMINAL_EVENTS:
            final = event["response"]
    assert final is not None, "run_turn always ends with a terminal event"
    return final

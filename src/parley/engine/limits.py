"""The server's limits on one response, checked by name.

A request over a limit that can be seen before the first event (too many input items, a
``max_tool_calls`` above the server's ceiling) is the caller's 400. A limit reached while the
response runs ends it as ``response.incomplete`` with the limit's name as
``incomplete_details.reason``: ``max_output_tokens``, ``max_tool_calls``, or ``timeout`` for a
response that ran past ``response_timeout``. The Open Responses schema leaves ``reason`` an open
string; OpenAI's own enum has no timeout of its own, because its responses are not bounded in time.

Deadlines are event-loop times (``loop.time()``): a stream waited on past one is cancelled where it
waits, so the wait itself ends, not only the next step after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

from parley.errors import InvalidRequest, LimitReached
from parley.wire.request import CreateResponseRequest

T = TypeVar("T")

TIMEOUT = "timeout"
"""``incomplete_details.reason`` of a response stopped by ``response_timeout``."""
BACKSTOP_GRACE = 1.0
"""Seconds past the deadline before a step that never reached a deadline check is cancelled."""


@dataclass(frozen=True)
class Limits:
    """Server-wide limits of a response (``Settings`` holds them; ``create_app`` passes them in)."""

    max_input_items: int = 10_000
    max_tool_calls: int | None = 256
    """Ceiling of hosted tool calls per response; a request's own ``max_tool_calls`` may be lower."""
    response_timeout: float | None = 3600.0
    """Seconds a response may run, from its first event; None: unbounded."""
    tool_timeout: float | None = 300.0
    """Seconds one hosted tool call may run; None: bounded by the response's deadline only."""

    def deadline(self) -> float | None:
        """The loop time by which a response starting now must end."""
        if self.response_timeout is None:
            return None
        return asyncio.get_running_loop().time() + self.response_timeout

    def tool_deadline(self, response_deadline: float | None) -> float | None:
        """The loop time by which a hosted call starting now must end: its own limit or the
        response's deadline, whichever comes first."""
        if self.tool_timeout is None:
            return response_deadline
        own = asyncio.get_running_loop().time() + self.tool_timeout
        return own if response_deadline is None else min(own, response_deadline)


def check_request(request: CreateResponseRequest, limits: Limits) -> None:
    """What the request asks that is over a limit, as a 400 naming the parameter and the limit."""
    count = 1 if isinstance(request.input, str) else len(request.input)
    if count > limits.max_input_items:
        raise InvalidRequest(
            f"Invalid 'input': array too long. Expected an array with maximum length "
            f"{limits.max_input_items}, but got an array with length {count} instead.",
            param="input",
            code="array_above_max_length",
        )
    ceiling, asked = limits.max_tool_calls, request.max_tool_calls
    if ceiling is not None and asked is not None and asked > ceiling:
        raise InvalidRequest(
            f"Invalid 'max_tool_calls': this server allows at most {ceiling} tool calls per "
            f"response, got {asked}.",
            param="max_tool_calls",
            code="integer_above_max_value",
        )


def tool_call_limit(request: CreateResponseRequest, limits: Limits) -> int | None:
    """Hosted calls this response may run: the request's ``max_tool_calls``, else the ceiling."""
    if request.max_tool_calls is None:
        return limits.max_tool_calls
    return request.max_tool_calls


def backstop(deadline: float | None) -> float | None:
    """The deadline of the response's steps as a whole: a little after ``deadline``, so that a step
    that checks it (a model call, a hosted call) ends first and closes its open items itself."""
    return None if deadline is None else deadline + BACKSTOP_GRACE


def check_deadline(deadline: float | None) -> None:
    """Before a step starts: past the deadline, the response stops here."""
    if deadline is not None and asyncio.get_running_loop().time() >= deadline:
        raise LimitReached(TIMEOUT)


class _Watch:
    """One timer per stream: at the deadline it cancels the task reading the stream if that task
    is waiting for the stream's next item, and otherwise leaves a mark the next wait sees. (A
    timer per item, ``asyncio.timeout``, costs ten times the whole step per streamed token.)"""

    __slots__ = ("fired", "ours", "task")

    def __init__(self) -> None:
        self.fired = False
        self.ours = False
        self.task: asyncio.Task[Any] | None = None
        """The task waiting for the next item; None between waits."""

    def fire(self) -> None:
        self.fired = True
        if self.task is not None:
            self.ours = True
            self.task.cancel()


async def until(deadline: float | None, stream: AsyncIterator[T]) -> AsyncIterator[T]:
    """``stream``'s items until ``deadline``; past it, ``stream`` is cancelled where it waits and
    ``LimitReached("timeout")`` is raised in its place. Only the waits are bounded, never a
    ``yield``: the consumer's time between items is its own. The task that starts reading reads
    to the end, as every pipeline is read (by the request's task, the job's or the socket's): it is
    looked up once, since on Python 3.11 each lookup is a ``getpid`` system call, and per token that
    was a tenth of a paced stream's CPU."""
    if deadline is None:
        async for item in stream:
            yield item
        return
    watch = _Watch()
    timer = asyncio.get_running_loop().call_at(deadline, watch.fire)
    task = asyncio.current_task()
    try:
        while not watch.fired:
            watch.task = task
            try:
                item = await anext(stream)
            except StopAsyncIteration:
                if watch.ours and task is not None:
                    task.uncancel()  # the stream swallowed our cancel and ended: it ended
                return
            except BaseException:  # whatever our cancel became on its way out of ``stream``
                if watch.ours and task is not None and task.uncancel() == 0:
                    raise LimitReached(TIMEOUT) from None
                raise  # cancelled by someone else too (a client that went away): that wins
            finally:
                watch.task = None
            yield item
        raise LimitReached(TIMEOUT)
    finally:
        timer.cancel()

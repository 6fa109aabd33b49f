"""Running the hosted tool calls of one model step.

Several calls in one step run concurrently, each into its own queue, while
their events are passed on strictly in call order: the first call's events
stream live, the next call's wait in its queue until the first is done. The
items each call finishes join the turn's context for the next model call, and
after each call come the events the model produced after it (``after``).

``max_tool_calls`` bounds every hosted call a response runs: those the model
asks for, and those a tool group runs on its own (a call the caller approved);
one ``CallBudget`` per response counts both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from parley.engine.calls import PendingHostedCall
from parley.engine.limits import backstop, tool_call_limit
from parley.engine.prepare import Turn
from parley.errors import LimitReached, ToolFailed
from parley.tools.base import HostedTool, Item
from parley.wire.events import Event

AWAITING_CALLER = frozenset({"mcp_approval_request"})
"""Items a hosted tool adds that wait for the caller (an approval): they end the response too."""

_END = object()


class CallBudget:
    """The hosted calls a response may still run (``max_tool_calls``; None: no limit)."""

    def __init__(self, limit: int | None) -> None:
        self._left = limit

    def take(self, wanted: int) -> int:
        """How many of ``wanted`` calls may run; those are counted as run."""
        if self._left is None:
            return wanted
        granted = min(wanted, self._left)
        self._left -= granted
        return granted


class _Host:
    """The part of a turn a running tool may use."""

    def __init__(self, turn: Turn, budget: CallBudget | None = None) -> None:
        self._turn = turn
        self._budget = budget or CallBudget(tool_call_limit(turn.request, turn.limits))
        self.owner = turn.owner
        self.deadline = turn.limits.tool_deadline(turn.deadline)
        """Loop time by which a call started now ends: ``tool_timeout``, or the response's deadline."""

    def claim_call(self) -> None:
        if not self._budget.take(1):
            raise LimitReached("max_tool_calls")

    @property
    def deferred(self) -> list[tuple[str | None, Any]]:
        return list(self._turn.toolset.deferred)

    def load(self, tools: list[dict[str, Any]]) -> None:
        self._turn.toolset.load(tools)

    def offer(self, tools: Sequence[HostedTool]) -> None:
        self._turn.toolset.offer_hosted(tools)


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


async def _pump(call: PendingHostedCall, host: _Host, queue: asyncio.Queue[object]) -> None:
    """A tool bounds its own waits by ``host.deadline`` (an overrun is a tool error the model reads);
    one that hangs elsewhere is cancelled a little later and fails the response."""
    scope = asyncio.timeout_at(backstop(host.deadline))
    try:
        async with scope:
            async for event in call.tool.run(call.call, host):
                queue.put_nowait(event)
    except TimeoutError as exc:
        failure = ToolFailed("A hosted tool call did not finish in time.") if scope.expired() else exc
        queue.put_nowait(_Failure(failure))
    except Exception as exc:  # noqa: BLE001 -- re-raised by the reader, in call order
        queue.put_nowait(_Failure(exc))
    else:
        queue.put_nowait(_END)


async def _queued(queue: asyncio.Queue[object]) -> AsyncIterator[Event]:
    while (event := await queue.get()) is not _END:
        if isinstance(event, _Failure):
            raise event.error
        assert isinstance(event, dict)
        yield event


def _joined(turn: Turn, event: Event) -> Event:
    """The event, its item added to the context when it is done."""
    if event["type"] == "response.output_item.done":
        turn.context.append(event["item"])
    return event


def sent_items(items: Sequence[Item], calls: Sequence[PendingHostedCall]) -> list[Item]:
    """A step's items that went out as the model call streamed: not those held after hosted calls."""
    held = {e["item"]["id"] for call in calls for e in call.after if e["type"] == "response.output_item.done"}
    return [item for item in items if item["id"] not in held]


def held_back(turn: Turn, calls: Sequence[PendingHostedCall]) -> list[Event]:
    """What the model said after calls that will not run: it goes out all the same."""
    return [_joined(turn, event) for call in calls for event in call.after]


async def run_hosted(
    turn: Turn, calls: Sequence[PendingHostedCall], budget: CallBudget | None = None
) -> AsyncIterator[Event]:
    host = _Host(turn, budget)
    queues: list[asyncio.Queue[object]] = [asyncio.Queue() for _ in calls]
    tasks = [asyncio.create_task(_pump(call, host, queue)) for call, queue in zip(calls, queues, strict=True)]
    try:
        for call, queue in zip(calls, queues, strict=True):
            async for event in _queued(queue):
                yield _joined(turn, event)
            for event in call.after:
                yield _joined(turn, event)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def open_groups(turn: Turn, budget: CallBudget | None = None) -> AsyncIterator[Event]:
    """Open the turn's tool groups before the first model call: their items join the context."""
    host = _Host(turn, budget)
    for group in turn.groups:
        async for event in group.open(host, list(turn.context)):
            yield _joined(turn, event)

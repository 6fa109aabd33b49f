"""Running the hosted tool calls of one model step.

Several calls in one step run concurrently, each into its own queue, while
their events are passed on strictly in call order: the first call's events
stream live, the next call's wait in its queue until the first is done. The
items each call finishes join the turn's context for the next model call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from parley.engine.calls import PendingHostedCall
from parley.engine.prepare import Turn
from parley.tools.base import HostedTool
from parley.wire.events import Event

CLIENT_CALLS = frozenset({"function_call", "custom_tool_call", "tool_search_call"})
"""Call items handed back to the caller: they end the response."""
AWAITING_CALLER = frozenset({"mcp_approval_request"})
"""Items a hosted tool adds that wait for the caller (an approval): they end the response too."""

_END = object()


class _Host:
    """The part of a turn a running tool may use."""

    def __init__(self, turn: Turn) -> None:
        self._turn = turn
        self.owner = turn.owner

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
    try:
        async for event in call.tool.run(call.call, host):
            queue.put_nowait(event)
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


async def run_hosted(turn: Turn, calls: Sequence[PendingHostedCall]) -> AsyncIterator[Event]:
    host = _Host(turn)
    queues: list[asyncio.Queue[object]] = [asyncio.Queue() for _ in calls]
    tasks = [asyncio.create_task(_pump(call, host, queue)) for call, queue in zip(calls, queues, strict=True)]
    try:
        for queue in queues:
            async for event in _queued(queue):
                if event["type"] == "response.output_item.done":
                    turn.context.append(event["item"])
                yield event
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def open_groups(turn: Turn) -> AsyncIterator[Event]:
    """Open the turn's tool groups before the first model call: their items join the context."""
    host = _Host(turn)
    for group in turn.groups:
        async for event in group.open(host, list(turn.context)):
            if event["type"] == "response.output_item.done":
                turn.context.append(event["item"])
            yield event

"""Hosted calls of one model step run concurrently, and their events keep call order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest

from parley.engine.calls import PendingHostedCall
from parley.engine.hosted import run_hosted
from parley.engine.prepare import Turn
from parley.engine.toolset import Toolset
from parley.errors import ToolFailed
from parley.providers.base import ChatProvider
from parley.tools.base import HostedCall, Item, Json, ToolHost
from parley.wire import events
from parley.wire.events import Event
from parley.wire.request import CreateResponseRequest


class Relay:
    """A hosted tool whose first call cannot finish until the second has started."""

    def __init__(self) -> None:
        self.second_started = asyncio.Event()

    def chat_tool(self) -> Json:
        return {"type": "function", "function": {"name": "relay", "parameters": {"type": "object"}}}

    def annotator(self, context: Sequence[Item]) -> None:
        return None

    async def run(self, call: HostedCall, host: ToolHost) -> AsyncIterator[Event]:
        item = {"id": f"it_{call.call_id}", "type": "relay_call", "status": "in_progress"}
        yield events.output_item_added(item)
        if call.call_id == "1":
            await asyncio.wait_for(self.second_started.wait(), timeout=5)
        else:
            self.second_started.set()
        if call.arguments == "fail":
            raise ToolFailed("relay broke")
        yield {"type": "response.relay_call.completed", "item_id": item["id"]}
        yield events.output_item_done({**item, "status": "completed", "owner": host.owner})


def make_turn() -> Turn:
    request = CreateResponseRequest(model="m", input="hi")
    return Turn(
        request,
        {"output": []},
        [],
        [],
        cast(ChatProvider, None),
        "m",
        "alice",
        Toolset([], native_custom=False),
    )


async def collect(turn: Turn, calls: list[PendingHostedCall]) -> list[tuple[str, Any]]:
    return [(e["type"], e.get("item_id") or e["item"]["id"]) async for e in run_hosted(turn, calls)]


async def test_calls_run_together_and_their_events_keep_call_order() -> None:
    tool = Relay()
    turn = make_turn()
    calls = [PendingHostedCall(tool, HostedCall(str(n), "{}")) for n in (1, 2)]
    assert await collect(turn, calls) == [
        ("response.output_item.added", "it_1"),
        ("response.relay_call.completed", "it_1"),
        ("response.output_item.done", "it_1"),
        ("response.output_item.added", "it_2"),
        ("response.relay_call.completed", "it_2"),
        ("response.output_item.done", "it_2"),
    ]
    assert [(item["id"], item["owner"]) for item in turn.context] == [("it_1", "alice"), ("it_2", "alice")]


async def test_a_failing_call_raises_in_its_turn_after_the_calls_before_it() -> None:
    tool = Relay()
    turn = make_turn()
    calls = [PendingHostedCall(tool, HostedCall("1", "{}")), PendingHostedCall(tool, HostedCall("2", "fail"))]
    seen: list[str] = []

    async def consume() -> None:
        async for event in run_hosted(turn, calls):
            seen.append(event["type"])

    with pytest.raises(ToolFailed, match="relay broke"):
        await consume()
    assert seen == [
        "response.output_item.added",
        "response.relay_call.completed",
        "response.output_item.done",
        "response.output_item.added",
    ]

"""``response_timeout`` and ``tool_timeout`` inside the loop, with a provider and tools that stream
for real (an in-process HTTP upstream delivers its answer whole, so these are tested here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest

from parley.engine.calls import PendingHostedCall
from parley.engine.hosted import run_hosted
from parley.engine.limits import Limits, until
from parley.engine.prepare import Turn
from parley.engine.toolset import Toolset
from parley.engine.turn import run_turn
from parley.errors import LimitReached, ToolFailed
from parley.providers.profiles import Capabilities
from parley.retrieval.library import VectorStoreLibrary
from parley.tools.base import HostedCall, Item, Json, ToolHost
from parley.tools.deadline import within
from parley.tools.file_search import FileSearch, read_call
from parley.wire import events
from parley.wire.events import Event
from parley.wire.request import CreateResponseRequest
from parley.wire.response import new_response
from parley.wire.tools import FileSearchTool


class Trickle:
    """A provider that says a word every 20 ms, for a long time."""

    name = "trickle"
    capabilities = Capabilities()

    def __init__(self) -> None:
        self.closed = False

    async def stream_chat(self, body: Json) -> AsyncIterator[Json]:
        try:
            yield {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
            for n in range(500):
                yield {"choices": [{"index": 0, "delta": {"content": f"word{n} "}}]}
                await asyncio.sleep(0.02)
        finally:
            self.closed = True


def turn_with(provider: Any, limits: Limits) -> Turn:
    request = CreateResponseRequest(model="m", input="Talk.")
    text = [{"type": "input_text", "text": "Talk."}]
    user: Item = {"id": "msg_in", "type": "message", "role": "user", "content": text}
    turn = Turn(
        request, new_response(request, "resp_t", 0), [user], [user], provider, "m", "alice",
        Toolset([], native_custom=False),
    )  # fmt: skip
    turn.limits = limits
    return turn


async def test_a_response_past_its_timeout_closes_what_it_was_saying_and_ends_incomplete() -> None:
    provider = Trickle()
    turn = turn_with(provider, Limits(response_timeout=0.15))
    seen = [event async for event in run_turn(turn)]
    types = [event["type"] for event in seen]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    final = seen[-1]["response"]
    assert (final["status"], final["incomplete_details"]) == ("incomplete", {"reason": "timeout"})
    message = final["output"][0]
    assert message["status"] == "incomplete"
    said = "".join(event["delta"] for event in seen if event["type"] == "response.output_text.delta")
    assert said.startswith("word0 word1 ")
    assert message["content"][0]["text"] == said  # what the client saw is what is kept
    assert provider.closed  # the provider's stream was closed, not left to run


class Stuck:
    """A hosted tool that never finishes, either inside a bounded wait or outside one."""

    def __init__(self, bounded: bool) -> None:
        self.bounded = bounded

    def chat_tool(self) -> Json:
        return {"type": "function", "function": {"name": "stuck", "parameters": {"type": "object"}}}

    def annotator(self, context: Sequence[Item]) -> None:
        return None

    async def run(self, call: HostedCall, host: ToolHost) -> AsyncIterator[Event]:
        item = {"id": "stuck_1", "type": "stuck_call", "status": "in_progress"}
        yield events.output_item_added(item)
        if not self.bounded:
            await asyncio.sleep(60)
        try:
            await within(host.deadline, asyncio.sleep(60), ToolFailed, "stuck")
        except ToolFailed as exc:
            yield events.output_item_done({**item, "status": "failed", "error": exc.message})


async def test_a_tool_past_tool_timeout_ends_as_its_own_failure() -> None:
    turn = turn_with(None, Limits(tool_timeout=0.05))
    calls = [PendingHostedCall(Stuck(bounded=True), HostedCall("1", "{}"))]
    seen = [event async for event in run_hosted(turn, calls)]
    assert seen[-1]["item"]["status"] == "failed"
    assert "did not finish within this server's time limit" in seen[-1]["item"]["error"]


async def test_a_tool_that_hangs_outside_a_bounded_wait_fails_the_response_soon_after() -> None:
    turn = turn_with(None, Limits(tool_timeout=0.05))
    calls = [PendingHostedCall(Stuck(bounded=False), HostedCall("1", "{}"))]
    async with asyncio.timeout(5):
        with pytest.raises(ToolFailed, match="did not finish in time"):
            [event async for event in run_hosted(turn, calls)]


async def test_a_tool_call_ends_by_the_responses_deadline_when_that_comes_first() -> None:
    turn = turn_with(None, Limits(tool_timeout=60))
    turn.deadline = asyncio.get_running_loop().time() + 0.05
    calls = [PendingHostedCall(Stuck(bounded=True), HostedCall("1", "{}"))]
    async with asyncio.timeout(5):
        seen = [event async for event in run_hosted(turn, calls)]
    assert seen[-1]["item"]["status"] == "failed"


class SlowLibrary:
    """Vector stores whose search never ends (a remote embedder that stopped answering)."""

    async def search(self, *args: Any) -> list[Any]:
        await asyncio.sleep(60)
        return []


async def test_a_file_search_past_tool_timeout_is_a_failed_call_the_model_reads() -> None:
    definition = FileSearchTool(type="file_search", vector_store_ids=["vs_1"])
    tool = FileSearch(definition, cast(VectorStoreLibrary, SlowLibrary()), None, "alice")
    turn = turn_with(None, Limits(tool_timeout=0.05))
    async with asyncio.timeout(5):
        seen = [event async for event in run_hosted(turn, [PendingHostedCall(tool, HostedCall("1", "{}"))])]
    item = seen[-1]["item"]
    assert (item["type"], item["status"]) == ("file_search_call", "failed")
    piece = read_call(item, cast(Any, None))
    assert piece.messages[0]["content"].startswith("knowledge_search failed: The knowledge_search call")


async def numbers(pause: float) -> AsyncIterator[int]:
    for n in range(100):
        yield n
        await asyncio.sleep(pause)


async def test_until_bounds_the_waits_not_the_reader() -> None:
    """A reader slow between items is never cancelled itself: the next wait ends the stream."""
    loop = asyncio.get_running_loop()
    seen = []

    async def read_slowly() -> None:
        async for n in until(loop.time() + 0.05, numbers(0)):
            seen.append(n)
            await asyncio.sleep(0.1)  # the reader's own time, past the deadline

    with pytest.raises(LimitReached):
        await read_slowly()
    assert seen == [0]


async def test_until_lets_a_cancel_of_its_reader_through() -> None:
    """A client that went away cancels the task: that is a cancel, not a timeout."""
    loop = asyncio.get_running_loop()

    async def read() -> None:
        async for _ in until(loop.time() + 10, numbers(1.0)):
            pass

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.05)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader

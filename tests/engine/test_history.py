"""Converting stored history once and then only what was appended gives exactly what converting
everything every time gives, whatever the items and however the history changes."""

from __future__ import annotations

import random
from typing import Any

import orjson

from parley.engine.history import HistoryMessages
from parley.engine.messages import to_chat_messages
from parley.engine.toolset import Toolset
from parley.providers.encoding import PreEncoded, encode_body
from parley.wire.items import Item
from parley.wire.tools import FunctionTool, NamespaceTool


def make_item(n: int, rng: random.Random) -> Item:
    kind = rng.choice(["user", "assistant", "call", "output", "reasoning"])
    if kind == "user":
        return {
            "id": f"msg_{n}",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": f"u{n}"}],
        }
    if kind == "assistant":
        part = {"type": "output_text", "text": f"a{n}", "annotations": []}
        return {"id": f"msg_{n}", "type": "message", "role": "assistant", "content": [part]}
    if kind == "call":
        return {"id": f"fc_{n}", "type": "function_call", "call_id": f"c{n}", "name": "deploy",
                "namespace": "ops", "arguments": "{}"}  # fmt: skip
    if kind == "output":
        return {"id": f"fco_{n}", "type": "function_call_output", "call_id": f"c{n - 1}", "output": "ok"}
    return {
        "id": f"rs_{n}",
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": f"r{n}"}],
    }


def toolset() -> Toolset:
    deploy = FunctionTool(type="function", name="deploy", parameters={"type": "object"})
    return Toolset([NamespaceTool(type="namespace", name="ops", tools=[deploy])], native_custom=False)


def check(cache: HistoryMessages, stored: list[Item], new: list[Item], tools: Toolset) -> None:
    """Converted from what is kept: the same messages, and the same bytes on the wire."""
    converted = cache.convert(("alice", stored[0]["id"]), stored, tools, "reasoning_content")
    cached = to_chat_messages("Be brief.", new, tools, after=converted)
    whole = to_chat_messages("Be brief.", [*stored, *new], tools)
    assert cached == whole
    assert encode_body({"model": "m", "messages": cached}) == orjson.dumps({"model": "m", "messages": whole})
    assert type(cached) is (PreEncoded if converted.encoded else list)


def test_appended_histories_convert_as_a_whole_would() -> None:
    rng = random.Random(7)
    cache, tools = HistoryMessages(), toolset()
    stored = [make_item(n, rng) for n in range(5)]
    for n in range(5, 200):
        new = [make_item(n * 10 + k, rng) for k in range(rng.randint(1, 3))]
        check(cache, stored, new, tools)
        stored += new  # the turn's items are appended to the history


def test_a_changed_history_is_converted_again() -> None:
    rng = random.Random(11)
    cache, tools = HistoryMessages(), toolset()
    stored = [make_item(n, rng) for n in range(30)]
    check(cache, stored, [], tools)
    del stored[10]  # an item deleted from the conversation
    check(cache, stored, [make_item(100, rng)], tools)
    stored[-1] = make_item(101, rng)  # the same length, another last item
    check(cache, stored, [], tools)
    check(cache, stored[:5], [], tools)  # a shorter history (another branch of a chain)
    check(cache, stored, [], Toolset([], native_custom=True))  # other tools: other chat names


def test_the_kept_conversion_is_never_changed_by_what_follows_it() -> None:
    cache, tools = HistoryMessages(), toolset()
    said = [{"type": "output_text", "text": "Let me check.", "annotations": []}]
    assistant: Any = {"id": "msg_2", "type": "message", "role": "assistant", "content": said}
    stored = [{"id": "msg_1", "type": "message", "role": "user", "content": "deploy it"}, assistant]
    call = {"id": "fc_3", "type": "function_call", "call_id": "c3", "name": "deploy", "arguments": "{}"}
    first = cache.convert(("alice", "msg_1"), stored, tools, "reasoning_content")
    before = [dict(m) for m in first.messages]
    to_chat_messages(None, [call], tools, after=first)  # joins the open assistant message
    assert first.messages == before
    assert "tool_calls" not in first.messages[-1]


def test_least_recently_used_histories_are_dropped() -> None:
    cache, tools = HistoryMessages(size=2), toolset()
    for n in range(3):
        message = {"id": f"msg_{n}", "type": "message", "role": "user", "content": "x"}
        cache.convert(("alice", f"msg_{n}"), [message], tools, "reasoning_content")
    assert len(cache._kept) == 2


def test_item_types_are_read_incrementally_and_again_when_the_history_changed() -> None:
    rng = random.Random(13)
    cache = HistoryMessages()
    stored = [make_item(n, rng) for n in range(40)]
    for step in range(60):
        key = ("alice", stored[0]["id"])
        assert cache.item_types(key, stored) == {item["type"] for item in stored}
        if step % 7 == 3:
            del stored[rng.randrange(1, len(stored))]  # deleted: a type may be gone
        elif step % 11 == 5:
            stored[-1] = make_item(1000 + step, rng)  # replaced at the end
        else:
            stored.append(make_item(100 + step, rng))
    assert cache.item_types(("alice", "none"), []) == frozenset()

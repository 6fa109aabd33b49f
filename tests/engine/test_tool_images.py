"""A tool output holding an image: chat servers take text only in a tool message, so the text stays
there and the image follows in a user message, after the last tool message answering the same
assistant message. Converting a kept history gives the same messages and bytes as converting it all."""

from __future__ import annotations

import random
from typing import Any

from parley.engine.history import HistoryMessages
from parley.engine.messages import drop_oldest_turn, to_chat_messages
from parley.engine.toolset import Toolset
from parley.wire.items import Item
from tests.engine.test_history import check

IMAGE = "data:image/png;base64,iVBORw0KGgo="
TOOLS = Toolset([], native_custom=False)


def call(n: int) -> Item:
    return {
        "id": f"fc_{n}",
        "type": "function_call",
        "call_id": f"c{n}",
        "name": "screenshot",
        "arguments": "{}",
    }


def output(n: int, *, image: bool, text: str | None = "Here it is.") -> Item:
    parts: list[dict[str, Any]] = [] if text is None else [{"type": "input_text", "text": text}]
    if image:
        parts.append({"type": "input_image", "image_url": IMAGE, "detail": "low"})
    return {"id": f"fco_{n}", "type": "function_call_output", "call_id": f"c{n}", "output": parts}


def user(n: int, text: str = "Look.") -> Item:
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


def image_part() -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": IMAGE, "detail": "low"}}


def test_the_image_follows_the_tool_message_as_a_user_message() -> None:
    messages = to_chat_messages(None, [user(0), call(1), output(1, image=True)], TOOLS)
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "Here it is."},
        {"role": "user", "content": [image_part()]},
    ]
    assert not any(
        isinstance(m["content"], list) and m["role"] == "tool" for m in messages
    )  # never an image_url part in a tool message


def test_parallel_calls_keep_their_tool_messages_together() -> None:
    items = [
        user(0),
        call(1),
        call(2),
        call(3),
        output(1, image=True),
        output(2, image=False),
        output(3, image=True),
    ]
    messages = to_chat_messages(None, items, TOOLS)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "tool", "user"]
    assert [m["tool_call_id"] for m in messages[2:5]] == ["c1", "c2", "c3"]
    assert messages[5]["content"] == [image_part(), image_part()]


def test_an_image_alone_leaves_the_tool_message_empty() -> None:
    messages = to_chat_messages(None, [user(0), call(1), output(1, image=True, text=None)], TOOLS)
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": ""},
        {"role": "user", "content": [image_part()]},
    ]


def test_dropping_the_oldest_turn_never_starts_at_a_tools_images() -> None:
    messages = to_chat_messages(None, [user(0), call(1), output(1, image=True), user(2), user(3)], TOOLS)
    trimmed = drop_oldest_turn(messages)
    assert trimmed is not None
    assert [m["role"] for m in trimmed] == ["user", "user"]


def test_kept_histories_split_anywhere_convert_as_a_whole_would() -> None:
    """The stored history may end between two tool outputs of one assistant message: what is kept
    of it is encoded early, and the later outputs still go before the images."""
    rng = random.Random(11)
    for _ in range(60):
        items: list[Item] = [user(0)]
        n = 1
        for _turn in range(rng.randint(1, 4)):
            calls = list(range(n, n + rng.randint(1, 3)))
            items += [call(k) for k in calls]
            items += [output(k, image=rng.random() < 0.6, text=rng.choice([None, "ok"])) for k in calls]
            items.append(user(calls[-1] + 1))
            n = calls[-1] + 2
        split = rng.randint(1, len(items) - 1)
        check(HistoryMessages(), items[:split], items[split:], TOOLS)

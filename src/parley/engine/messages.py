"""Responses items -> chat-completions messages.

One converter per item type, looked up in ``CONVERTERS``: a new item type is a
new entry, never a special case in the loop. Items of hosted tools are read by
the tool's own reader (``tools/registry.py``). Assistant-side items that follow
each other (reasoning, text, tool calls) fold into one assistant message, as
chat-completions expects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parley.engine.toolset import Toolset
from parley.providers.encoding import PreEncoded
from parley.tools.registry import READERS
from parley.wire.items import Item

Message = dict[str, Any]

SUMMARY_HEADING = "Summary of the conversation so far:\n\n"


class MessageBuilder:
    def __init__(self, toolset: Toolset, reasoning_field: str | None = "reasoning_content") -> None:
        """``reasoning_field``: where earlier reasoning goes in an assistant message; None: left out."""
        self.toolset = toolset
        self.reasoning_field = reasoning_field
        self.messages: list[Message] = []
        self._assistant: Message | None = None
        self._attached: Message | None = None

    def add(self, message: Message) -> None:
        self._assistant = self._attached = None
        self.messages.append(message)

    def assistant(self) -> Message:
        """The open assistant message, started if the last message was not one."""
        if self._assistant is None:
            self._assistant = {"role": "assistant", "content": None}
            self._attached = None
            self.messages.append(self._assistant)
        return self._assistant

    def tool_result(self, message: Message, attachments: list[dict[str, Any]]) -> None:
        """A tool message, and what a tool message cannot carry (images, files: chat servers take
        text only there) in one user message after it. The tool messages that answer one assistant
        message must follow it unbroken, so the user message stays after the last of them."""
        attached = self._attached
        if attached is None or not self.messages or self.messages[-1] is not attached:
            self.add(message)
            if attachments:
                self._attached = {"role": "user", "content": list(attachments)}
                self.messages.append(self._attached)
            return
        self.messages.insert(len(self.messages) - 1, message)
        attached["content"].extend(attachments)


def _content_part(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": part["text"]}
    if kind == "input_image":
        url = part.get("image_url")  # a file_id was read into a data: URL (engine/files.py)
        image: dict[str, Any] = {"url": url}
        if part.get("detail") and part["detail"] != "auto":
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file = {k: part[k] for k in ("file_data", "file_id", "filename") if part.get(k)}
        if part.get("file_url") and "file_data" not in file:
            file["file_data"] = part["file_url"]
        return {"type": "file", "file": file}
    if kind == "refusal":
        return {"type": "text", "text": part["refusal"]}
    return {"type": "text", "text": str(part.get("text", ""))}


def _content(content: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Plain strings where every part is text (what most servers expect); parts otherwise."""
    if isinstance(content, str):
        return content
    parts = [_content_part(part) for part in content]
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _message(item: Item, out: MessageBuilder) -> None:
    role = item["role"]
    if role == "assistant":
        message = out.assistant()
        text = _content(item["content"])
        text = text if isinstance(text, str) else "".join(p.get("text", "") for p in text)
        message["content"] = (message["content"] or "") + text
        return
    out.add({"role": "system" if role == "developer" else role, "content": _content(item["content"])})


def _tool_call(out: MessageBuilder, call: dict[str, Any]) -> None:
    out.assistant().setdefault("tool_calls", []).append(call)


def _function_call(item: Item, out: MessageBuilder) -> None:
    name = out.toolset.chat_name(item["name"], item.get("namespace"))
    function = {"name": name, "arguments": item["arguments"]}
    _tool_call(out, {"id": item["call_id"], "type": "function", "function": function})


def _custom_tool_call(item: Item, out: MessageBuilder) -> None:
    name = out.toolset.chat_name(item["name"], item.get("namespace"))
    if out.toolset.sends_custom_natively():
        custom = {"name": name, "input": item["input"]}
        _tool_call(out, {"id": item["call_id"], "type": "custom", "custom": custom})
    else:
        function = {"name": name, "arguments": json.dumps({"input": item["input"]})}
        _tool_call(out, {"id": item["call_id"], "type": "function", "function": function})


def _call_output(item: Item, out: MessageBuilder) -> None:
    content = _content(item["output"])
    if isinstance(content, str):
        out.tool_result({"role": "tool", "tool_call_id": item["call_id"], "content": content}, [])
        return
    text = "".join(part["text"] for part in content if part["type"] == "text")
    attachments = [part for part in content if part["type"] != "text"]
    out.tool_result({"role": "tool", "tool_call_id": item["call_id"], "content": text}, attachments)


def _hosted(item: Item, out: MessageBuilder) -> None:
    """An item a hosted tool added, read back by that tool's own reader."""
    piece = READERS[item["type"]](item, out.toolset)
    for call in piece.tool_calls:
        _tool_call(out, call)
    for message in piece.messages:
        out.add(message)


def _reasoning(item: Item, out: MessageBuilder) -> None:
    text = "".join(part.get("text", "") for part in item.get("content") or ())
    field = out.reasoning_field
    if text and field:
        message = out.assistant()
        message[field] = message.get(field, "") + text


def _compaction(item: Item, out: MessageBuilder) -> None:
    """An opened compaction stands for everything before it: those messages give way to its summary
    (its kept items follow it in the context). One sealed elsewhere, unread, is skipped."""
    summary = item.get("summary")
    if summary is None:
        return
    out.messages.clear()
    out.add({"role": "system", "content": SUMMARY_HEADING + summary})


CONVERTERS: dict[str, Callable[[Item, MessageBuilder], None]] = {
    **{kind: _hosted for kind in READERS},
    "message": _message,
    "function_call": _function_call,
    "function_call_output": _call_output,
    "custom_tool_call": _custom_tool_call,
    "custom_tool_call_output": _call_output,
    "reasoning": _reasoning,
    "compaction": _compaction,
}


@dataclass(frozen=True)
class Converted:
    """The chat messages of some items, in a form more items can be converted after: whether the
    last message is an assistant message later items may still add to, and which item came last."""

    messages: list[Message]
    open_assistant: bool
    count: int
    last_id: str | None
    encoded: int = 0
    """How many of the first messages ``encoded_json`` holds (``engine/history.py`` keeps it)."""
    encoded_json: bytes = b""
    attached: bool = False
    """The last message holds tool results' images: later tool messages go before it, and their
    images into it (``MessageBuilder.tool_result``)."""

    @property
    def open_tail(self) -> int:
        """How many of the last messages later items may still change (never encoded early)."""
        return int(self.open_assistant or self.attached)

    def intact_in(self, messages: list[Message]) -> bool:
        """Whether ``messages`` (converted after this) still begin with the encoded messages: a
        compaction among the later items replaces them all."""
        n = self.encoded
        return 0 < n <= len(messages) and messages[n - 1] is self.messages[n - 1]


def convert(
    items: list[Item], toolset: Toolset, reasoning_field: str | None, after: Converted | None = None
) -> Converted:
    """``items`` as chat messages, continuing ``after`` (which is never changed: the open assistant
    message it ends with is copied before anything is added to it)."""
    builder = MessageBuilder(toolset, reasoning_field)
    if after is not None:
        builder.messages = list(after.messages)
        if after.open_assistant:
            last = dict(after.messages[-1])
            if "tool_calls" in last:
                last["tool_calls"] = list(last["tool_calls"])
            builder.messages[-1] = builder._assistant = last
        elif after.attached:
            last = {**after.messages[-1], "content": list(after.messages[-1]["content"])}
            builder.messages[-1] = builder._attached = last
    for item in items:
        converter = CONVERTERS.get(item["type"])
        if converter is not None:
            converter(item, builder)
    count = (after.count if after else 0) + len(items)
    last_id = items[-1].get("id") if items else (after.last_id if after else None)
    attached = builder._attached is not None and builder.messages[-1] is builder._attached
    return Converted(builder.messages, builder._assistant is not None, count, last_id, attached=attached)


def to_chat_messages(
    instructions: str | None,
    items: list[Item],
    toolset: Toolset,
    *,
    reasoning_field: str | None = "reasoning_content",
    after: Converted | None = None,
) -> list[Message]:
    """The chat messages of ``items`` (following the already converted ``after``), instructions first.
    What of ``after`` is already encoded is passed on as such (``PreEncoded``)."""
    messages = convert(items, toolset, reasoning_field, after).messages
    head = [{"role": "system", "content": instructions}] if instructions else []
    if after is not None and after.intact_in(messages):
        return PreEncoded([*head, *messages], len(head), len(head) + after.encoded, after.encoded_json)
    return [*head, *messages] if head else messages


def drop_oldest_turn(messages: list[Message]) -> list[Message] | None:
    """The messages without their oldest turn (a user message and all that answers it), or None
    when only one turn is left. System messages stay, and tool calls never lose their results."""
    users = [
        i
        for i, message in enumerate(messages)
        if message["role"] == "user" and not (i and messages[i - 1]["role"] == "tool")  # not a tool's images
    ]
    if len(users) < 2:
        return None
    first, second = users[0], users[1]
    kept_system = [message for message in messages[first:second] if message["role"] == "system"]
    return messages[:first] + kept_system + messages[second:]

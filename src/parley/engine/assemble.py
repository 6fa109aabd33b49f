"""Chat-completion chunks -> output items and their stream events, with no ``await``.

One ``Assembler`` per model call. It keeps at most one item open: text,
refusal and reasoning text stream as content parts of a message or reasoning
item; each tool call streams as its own function_call item. When the kind of
delta changes, the open item is closed (its ``.done`` events emitted) and the
next one opened, so items come out whole and in the order the model produced
them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from parley.engine.think_tags import ThinkSplitter
from parley.engine.toolset import OfferedTool, Toolset
from parley.errors import UpstreamProtocolError
from parley.ids import new_id
from parley.wire import events
from parley.wire.events import Event
from parley.wire.items import Item


def _part(kind: str, text: str, logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    if kind == "output_text":
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs or []}
    if kind == "refusal":
        return {"type": "refusal", "refusal": text}
    return {"type": "reasoning_text", "text": text}


@dataclass
class _Part:
    kind: str
    pieces: list[str] = field(default_factory=list)
    logprobs: list[dict[str, Any]] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        return _part(self.kind, "".join(self.pieces), self.logprobs)


@dataclass
class _ContentItem:
    """An open message or reasoning item: its parts so far, the last one still growing."""

    skeleton: Item
    parts: list[_Part] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.skeleton["id"])


@dataclass
class _CallItem:
    index: int
    item: Item
    native_custom: bool
    pieces: list[str] = field(default_factory=list)


def _call_item(offered: OfferedTool | None, chat_name: str, call_id: str) -> Item:
    """The output item a chat tool call becomes, by the kind of tool it calls."""
    kind = offered.kind if offered else "function"
    name = offered.name if offered else chat_name
    if kind == "tool_search":
        return {
            "id": new_id("tsc"),
            "type": "tool_search_call",
            "status": "in_progress",
            "call_id": call_id,
            "arguments": {},
            "execution": offered.execution if offered else "client",
        }
    if kind == "custom":
        item = {
            "id": new_id("ctc"),
            "type": "custom_tool_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": name,
            "input": "",
        }
    else:
        item = {
            "id": new_id("fc"),
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": call_id,
            "name": name,
        }
    if offered is not None and offered.namespace is not None:
        item["namespace"] = offered.namespace
    return item


def _decode_json(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return None


class Assembler:
    def __init__(
        self,
        toolset: Toolset | None = None,
        seal: Callable[[str], str] | None = None,
        *,
        think_tags: bool = False,
    ) -> None:
        """``seal``, when given, adds ``encrypted_content`` to reasoning items; ``think_tags`` splits a
        leading ``<think>`` block out of the content as reasoning."""
        self.items: list[Item] = []
        self._think = ThinkSplitter() if think_tags else None
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self._toolset = toolset
        self._seal = seal
        self._open: _ContentItem | _CallItem | None = None
        self._closed_calls: set[int] = set()

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                self._text("reasoning", "reasoning_text", reasoning, out)
            if delta.get("content"):
                logprobs = (choice.get("logprobs") or {}).get("content")
                self._content(delta["content"], out, logprobs)
            if delta.get("refusal"):
                self._text("message", "refusal", delta["refusal"], out)
            for call in delta.get("tool_calls") or ():
                self._tool_call(call, out)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def finish(self) -> list[Event]:
        out = self._flush_think()
        self._close(out, status="incomplete" if self.finish_reason == "length" else "completed")
        return out

    def abort(self) -> list[Event]:
        """Close whatever was streaming when the call failed, so what the client saw is kept."""
        out = self._flush_think()
        self._close(out, status="incomplete")
        return out

    def _content(self, text: str, out: list[Event], logprobs: list[dict[str, Any]] | None) -> None:
        if self._think is None:
            self._text("message", "output_text", text, out, logprobs)
            return
        for kind, part in self._think.feed(text):
            self._route(kind, part, out)

    def _route(self, kind: str, text: str, out: list[Event]) -> None:
        if kind == "reasoning":
            self._text("reasoning", "reasoning_text", text, out)
        else:
            self._text("message", "output_text", text, out)

    def _flush_think(self) -> list[Event]:
        out: list[Event] = []
        for kind, text in self._think.flush() if self._think else ():
            self._route(kind, text, out)
        return out

    def _text(
        self,
        item_type: str,
        kind: str,
        text: str,
        out: list[Event],
        logprobs: list[dict[str, Any]] | None = None,
    ) -> None:
        current = self._open
        if not (isinstance(current, _ContentItem) and current.skeleton["type"] == item_type):
            self._close(out)
            current = self._open = _ContentItem(self._skeleton(item_type))
            out.append(events.output_item_added(dict(current.skeleton, content=[])))
        if not current.parts or current.parts[-1].kind != kind:
            self._close_part(current, out)
            current.parts.append(_Part(kind))
            out.append(events.content_part_added(current.id, len(current.parts) - 1, _part(kind, "")))
        part = current.parts[-1]
        part.pieces.append(text)
        part.logprobs.extend(logprobs or ())
        out.append(events.text_delta(kind, current.id, len(current.parts) - 1, text, logprobs))

    def _tool_call(self, call: dict[str, Any], out: list[Event]) -> None:
        index = int(call.get("index", 0))
        native = call.get("type") == "custom" or "custom" in call
        payload = (call.get("custom") if native else call.get("function")) or {}
        current = self._open
        # A new call id starts a new call even at a reused index (Ollama numbers every call 0).
        new_id_here = (
            bool(call.get("id")) and isinstance(current, _CallItem) and call["id"] != current.item["call_id"]
        )
        if not (isinstance(current, _CallItem) and current.index == index) or new_id_here:
            if index in self._closed_calls and not call.get("id"):
                raise UpstreamProtocolError(f"Provider interleaved the deltas of tool call {index}.")
            self._close(out)
            chat_name = payload.get("name") or ""
            offered = self._toolset.by_chat_name(chat_name) if self._toolset else None
            item = _call_item(offered, chat_name, call.get("id") or new_id("call"))
            current = self._open = _CallItem(index, item, native)
            out.append(events.output_item_added(dict(item)))
        piece = payload.get("input" if native else "arguments")
        if piece:
            current.pieces.append(piece)
            kind = current.item["type"]
            if kind == "function_call":
                out.append(events.arguments_delta(current.item["id"], piece))
            elif kind == "custom_tool_call" and current.native_custom:
                out.append(events.custom_input_delta(current.item["id"], piece))

    def _skeleton(self, item_type: str) -> Item:
        if item_type == "message":
            return {
                "id": new_id("msg"),
                "type": "message",
                "status": "in_progress",
                "content": [],
                "role": "assistant",
            }
        return {
            "id": new_id("rs"),
            "type": "reasoning",
            "summary": [],
            "content": [],
            "status": "in_progress",
        }

    def _close_part(self, current: _ContentItem, out: list[Event]) -> None:
        if not current.parts:
            return
        part = current.parts[-1]
        index = len(current.parts) - 1
        out.append(events.text_done(part.kind, current.id, index, "".join(part.pieces), part.logprobs))
        out.append(events.content_part_done(current.id, index, part.wire()))

    def _close(self, out: list[Event], status: str = "completed") -> None:
        current, self._open = self._open, None
        if current is None:
            return
        if isinstance(current, _CallItem):
            self._closed_calls.add(current.index)
            item = self._close_call(current, status, out)
        else:
            self._close_part(current, out)
            content = [part.wire() for part in current.parts]
            item = {**current.skeleton, "status": status, "content": content}
            if item["type"] == "reasoning" and self._seal is not None:
                item["encrypted_content"] = self._seal("".join(part["text"] for part in content))
        self.items.append(item)
        out.append(events.output_item_done(item))

    def _close_call(self, current: _CallItem, status: str, out: list[Event]) -> Item:
        text = "".join(current.pieces)
        kind = current.item["type"]
        if kind == "function_call":
            item = {**current.item, "status": status, "arguments": text}
            out.append(events.arguments_done(item))
        elif kind == "custom_tool_call":
            value = text if current.native_custom else _decode_json(text)
            raw = value.get("input") if isinstance(value, dict) else None
            item = {**current.item, "status": status, "input": raw if isinstance(raw, str) else text}
            if (
                not current.native_custom and item["input"]
            ):  # the fallback streams nothing until it can decode
                out.append(events.custom_input_delta(item["id"], item["input"]))
            out.append(events.custom_input_done(item))
        else:
            arguments = _decode_json(text)
            item = {
                **current.item,
                "status": status,
                "arguments": arguments if arguments is not None else text,
            }
        return item

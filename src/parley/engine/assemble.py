"""Chat-completion chunks -> output items and their stream events, with no ``await``.

One ``Assembler`` per model call. It keeps at most one item open: text,
refusal and reasoning text stream as content parts of a message or reasoning
item; each tool call streams as its own function_call item. When the kind of
delta changes, the open item is closed (its ``.done`` events emitted) and the
next one opened, so items come out whole and in the order the model produced
them.

A hosted call streams nothing while the model writes it, and the engine runs it
after the model call; whatever the model says after such a call in the same step
is held back in the call's ``after`` and let out once its own items are, so the
output keeps the model's order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from parley.engine.calls import (
    CallIds,
    CallItem,
    HostedCallItem,
    PendingHostedCall,
    call_item,
    close_call,
)
from parley.engine.think_tags import ThinkSplitter
from parley.engine.toolset import Toolset
from parley.errors import UpstreamProtocolError
from parley.ids import new_id
from parley.tools.base import HostedCall, TextAnnotator
from parley.wire import events
from parley.wire.events import Event
from parley.wire.items import Item

_HOLD = "parley.hold"
"""A marker among an ``out`` list's events (never sent): what follows is held for this hosted call."""


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
    annotations: list[dict[str, Any]] = field(default_factory=list)
    length: int = 0

    def wire(self) -> dict[str, Any]:
        part = _part(self.kind, "".join(self.pieces), self.logprobs)
        if self.annotations:
            part["annotations"] = list(self.annotations)
        return part


@dataclass
class _ContentItem:
    """An open message or reasoning item: its parts so far, the last one still growing."""

    skeleton: Item
    parts: list[_Part] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.skeleton["id"])


class Assembler:
    def __init__(
        self,
        toolset: Toolset | None = None,
        seal: Callable[[str], str] | None = None,
        *,
        think_tags: bool = False,
        annotator: TextAnnotator | None = None,
        call_ids: CallIds | None = None,
    ) -> None:
        """``seal``, when given, adds ``encrypted_content`` to reasoning items; ``think_tags`` splits a
        leading ``<think>`` block out of the content as reasoning; ``annotator`` reads the answer's
        text for citations (hosted tools')."""
        self._annotator = annotator
        self.items: list[Item] = []
        self._think = ThinkSplitter() if think_tags else None
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.hosted_calls: list[PendingHostedCall] = []
        self._toolset = toolset
        self._seal = seal
        self._open: _ContentItem | CallItem | HostedCallItem | None = None
        self._closed_calls: set[int] = set()
        self._holder: PendingHostedCall | None = None
        """The last hosted call collected: the events that follow it are held in its ``after``."""
        self._call_ids = call_ids or CallIds()
        self._provider_call_id: str | None = None
        """The open call's id as the provider sent it (the caller may see another: ``CallIds``)."""

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
        return self._deliver(out)

    def finish(self) -> list[Event]:
        out = self._flush_think()
        self._release(out)
        self._close(out, status="incomplete" if self.finish_reason == "length" else "completed")
        return self._deliver(out)

    def abort(self) -> list[Event]:
        """Close whatever was streaming when the call failed, so what the client saw is kept; the
        hosted calls will not run, so what was held after them is let out now."""
        out = self._flush_think()
        self._release(out)
        self._close(out, status="incomplete")
        live = self._deliver(out)
        for pending in self.hosted_calls:
            live.extend(pending.after)
            pending.after.clear()
        return live

    def _deliver(self, out: list[Event]) -> list[Event]:
        """The events to send now; those after a collected hosted call go to its ``after``."""
        if not self.hosted_calls:  # no hosted call yet, so nothing is held: the common case
            return out
        live: list[Event] = []
        for event in out:
            if event["type"] == _HOLD:
                self._holder = event["call"]
            elif self._holder is not None:
                self._holder.after.append(event)
            else:
                live.append(event)
        return live

    def _content(self, text: str, out: list[Event], logprobs: list[dict[str, Any]] | None) -> None:
        if self._think is None:
            self._output_text(text, out, logprobs)
            return
        for kind, part in self._think.feed(text):
            self._route(kind, part, out)

    def _route(self, kind: str, text: str, out: list[Event]) -> None:
        if kind == "reasoning":
            self._text("reasoning", "reasoning_text", text, out)
        else:
            self._output_text(text, out)

    def _output_text(self, text: str, out: list[Event], logprobs: list[dict[str, Any]] | None = None) -> None:
        if self._annotator is None:
            self._text("message", "output_text", text, out, logprobs)
            return
        self._place(self._annotator.feed(text), out, logprobs)

    def _release(self, out: list[Event]) -> None:
        """Text the annotator still holds at the end of the call belongs to the answer."""
        if self._annotator is not None:
            self._place(self._annotator.flush(), out)

    def _place(
        self,
        pieces: list[str | dict[str, Any]],
        out: list[Event],
        logprobs: list[dict[str, Any]] | None = None,
        into: _ContentItem | None = None,
    ) -> None:
        """The annotator's pieces into the answer (``into``: the item whose text part is closing)."""
        for piece in pieces:
            current = into or self._part("message", "output_text", out)
            if isinstance(piece, str):
                self._append(current, piece, out, logprobs)
                logprobs = None
            else:
                self._annotate(current, piece, out)

    def _annotate(self, current: _ContentItem, annotation: dict[str, Any], out: list[Event]) -> None:
        part = current.parts[-1]
        if "end_index" not in annotation:  # a span (url_citation) carries its own place
            annotation = {**annotation, "index": part.length}
        part.annotations.append(annotation)
        index = len(current.parts) - 1
        out.append(events.annotation_added(current.id, index, len(part.annotations) - 1, annotation))

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
        self._append(self._part(item_type, kind, out), text, out, logprobs)

    def _part(self, item_type: str, kind: str, out: list[Event]) -> _ContentItem:
        """The open item of ``item_type`` with a ``kind`` part last, opened if need be."""
        current = self._open
        if not (isinstance(current, _ContentItem) and current.skeleton["type"] == item_type):
            self._close(out)
            current = self._open = _ContentItem(self._skeleton(item_type))
            out.append(events.output_item_added(dict(current.skeleton, content=[])))
        if not current.parts or current.parts[-1].kind != kind:
            self._close_part(current, out)
            current.parts.append(_Part(kind))
            out.append(events.content_part_added(current.id, len(current.parts) - 1, _part(kind, "")))
        return current

    def _append(
        self, current: _ContentItem, text: str, out: list[Event], logprobs: list[dict[str, Any]] | None = None
    ) -> None:
        part = current.parts[-1]
        part.pieces.append(text)
        part.length += len(text)
        part.logprobs.extend(logprobs or ())
        out.append(events.text_delta(part.kind, current.id, len(current.parts) - 1, text, logprobs))

    def _tool_call(self, call: dict[str, Any], out: list[Event]) -> None:
        index = int(call.get("index", 0))
        native = call.get("type") == "custom" or "custom" in call
        payload = (call.get("custom") if native else call.get("function")) or {}
        current = self._open
        # A new call id starts a new call even at a reused index (Ollama numbers every call 0).
        new_id_here = (
            bool(call.get("id"))
            and isinstance(current, CallItem | HostedCallItem)
            and call["id"] != self._provider_call_id
        )
        if not (isinstance(current, CallItem | HostedCallItem) and current.index == index) or new_id_here:
            if index in self._closed_calls and not call.get("id"):
                raise UpstreamProtocolError(f"Provider interleaved the deltas of tool call {index}.")
            self._close(out)
            self._provider_call_id = call.get("id")
            call_id = self._call_ids.issue(self._provider_call_id)
            current = self._open = self._open_call(index, call_id, payload, native)
            if isinstance(current, CallItem):
                out.append(events.output_item_added(dict(current.item)))
        piece = payload.get("input" if native else "arguments")
        if piece:
            current.pieces.append(piece)
            if isinstance(current, HostedCallItem):
                return
            kind = current.item["type"]
            if kind == "function_call":
                out.append(events.arguments_delta(current.item["id"], piece))
            elif kind == "custom_tool_call" and current.native_custom:
                out.append(events.custom_input_delta(current.item["id"], piece))

    def _open_call(
        self, index: int, call_id: str, payload: dict[str, Any], native: bool
    ) -> CallItem | HostedCallItem:
        chat_name = payload.get("name") or ""
        offered = self._toolset.by_chat_name(chat_name) if self._toolset else None
        if offered is not None and offered.hosted is not None:
            return HostedCallItem(index, call_id, offered.hosted)
        return CallItem(index, call_item(offered, chat_name, call_id), native)

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
        if part.kind == "output_text" and self._annotator is not None:
            self._place(self._annotator.flush(), out, into=current)
        index = len(current.parts) - 1
        out.append(events.text_done(part.kind, current.id, index, "".join(part.pieces), part.logprobs))
        out.append(events.content_part_done(current.id, index, part.wire()))

    def _close(self, out: list[Event], status: str = "completed") -> None:
        current, self._open = self._open, None
        if current is None:
            return
        if isinstance(current, HostedCallItem):
            self._closed_calls.add(current.index)
            if status == "completed":  # a call cut short is never run
                call = HostedCall(current.call_id, "".join(current.pieces))
                pending = PendingHostedCall(current.tool, call)
                self.hosted_calls.append(pending)
                out.append({"type": _HOLD, "call": pending})
            return
        if isinstance(current, CallItem):
            self._closed_calls.add(current.index)
            item = close_call(current, status, out)
        else:
            self._close_part(current, out)
            content = [part.wire() for part in current.parts]
            item = {**current.skeleton, "status": status, "content": content}
            if item["type"] == "reasoning" and self._seal is not None:
                item["encrypted_content"] = self._seal("".join(part["text"] for part in content))
        self.items.append(item)
        out.append(events.output_item_done(item))

"""Tool calls read off a chat stream: the open call's state and the item it becomes.

Client-side calls become ``function_call``, ``custom_tool_call`` or
``tool_search_call`` items that stream as they arrive; calls to hosted tools
stream nothing and are collected whole for the engine to run.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from parley.engine.toolset import OfferedTool
from parley.ids import new_id
from parley.tools.base import HostedCall, HostedTool
from parley.wire import events
from parley.wire.events import Event
from parley.wire.items import Item

CLIENT_CALLS = frozenset({"function_call", "custom_tool_call", "tool_search_call"})
"""Call items handed back to the caller: they end the response."""


@dataclass
class CallItem:
    index: int
    item: Item
    native_custom: bool
    pieces: list[str] = field(default_factory=list)


@dataclass
class HostedCallItem:
    index: int
    call_id: str
    tool: HostedTool
    pieces: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PendingHostedCall:
    tool: HostedTool
    call: HostedCall
    after: list[Event] = field(default_factory=list)
    """The events of what the model said after this call in the same step, held back until this
    call's own items are out: output comes in the model's order."""


def call_item(offered: OfferedTool | None, chat_name: str, call_id: str) -> Item:
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
            "execution": "client",
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


def call_id_of(current: CallItem | HostedCallItem) -> str:
    return current.call_id if isinstance(current, HostedCallItem) else str(current.item["call_id"])


def decode_json(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return None


def close_call(current: CallItem, status: str, out: list[Event]) -> Item:
    """The finished item of a client-side call, with its ``.done`` events."""
    text = "".join(current.pieces)
    kind = current.item["type"]
    if kind == "function_call":
        item = {**current.item, "status": status, "arguments": text}
        out.append(events.arguments_done(item))
    elif kind == "custom_tool_call":
        value = text if current.native_custom else decode_json(text)
        raw = value.get("input") if isinstance(value, dict) else None
        item = {**current.item, "status": status, "input": raw if isinstance(raw, str) else text}
        if (
            not current.native_custom and item["input"]
        ):  # the fallback streams nothing until it can decode
            out.append(events.custom_input_delta(item["id"], item["input"]))
        out.append(events.custom_input_done(item))
    else:
        arguments = decode_json(text)
        item = {
            **current.item,
            "status": status,
            "arguments": arguments if arguments is not None else text,
        }
    return item


class CallIds:
    """The call ids the caller sees, unique within the chain.

    A server that numbers its calls per completion (``call_0``, ``0``) repeats them turn after turn,
    and a client that keys calls by id refuses a repeat (the Agents SDK: "Model reused a tool call
    ID"). A repeated id is replaced by a fresh one; the history then carries the fresh id back to the
    provider, and such servers read whatever id a past call has. Ids already unique pass unchanged.
    """

    def __init__(self, taken: Callable[[], Iterable[str]] = tuple) -> None:
        self._read_taken = taken
        self._taken: set[str] | None = None

    def issue(self, provider_id: str | None) -> str:
        if not provider_id:
            return new_id("call")
        if self._taken is None:  # read only once a call is made: most model calls make none
            self._taken = set(self._read_taken())
        call_id = provider_id if provider_id not in self._taken else f"call_{secrets.token_hex(12)}"
        self._taken.add(call_id)
        return call_id

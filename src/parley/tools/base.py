"""The seam every hosted tool plugs into: a tool Parley runs itself, between model calls.

A hosted tool is declared in a request's ``tools`` by its ``type`` and built for
that one response (``HostedToolType.build``). It is then:

- **offered** to the model as one chat-completions function (``chat_tool``);
- **run** when the model calls it: ``run`` yields the unstamped events of the
  output items the call adds, ``response.output_item.added`` first, its progress
  events while the item is open, ``response.output_item.done`` last. The items
  of the ``done`` events join the turn's context, so the next model call sees them;
- **read back** into chat messages, on later model calls and later turns, by a
  ``Reader`` per output item type (``HostedToolType.readers``): the assistant's
  tool call and the tool result the model saw.

The engine asks the registry (``tools/registry.py``) and never branches on a
tool's kind: a new hosted tool is a module here, a registry line and its wire models.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from parley.providers.mcp_client import McpClients
from parley.providers.search import WebSearchBackends
from parley.retrieval.library import VectorStoreLibrary

Item = dict[str, Any]
Event = dict[str, Any]
Json = dict[str, Any]


@dataclass(frozen=True)
class HostedCall:
    """A model's call to a hosted tool, read off the chat stream whole."""

    call_id: str
    arguments: str
    """The raw JSON text the model wrote; a tool decides how lenient to be with it."""


class ToolHost(Protocol):
    """What a running tool may use of the turn it runs in."""

    owner: str
    deadline: float | None
    """Event-loop time by which this call must end (``tool_timeout``); None: no limit."""

    @property
    def deferred(self) -> list[tuple[str | None, Any]]:
        """Tools held back with ``defer_loading``, as (namespace, tool)."""
        ...

    def load(self, tools: list[dict[str, Any]]) -> None:
        """Make tools callable from the next model call on."""

    def offer(self, tools: Sequence[HostedTool]) -> None:
        """Offer more hosted tools from the next model call on (a ``ToolGroup``'s, once found)."""

    def claim_call(self) -> None:
        """Count a call a tool runs on its own (one the caller approved) against ``max_tool_calls``;
        raises ``LimitReached`` when none is left. The model's calls are counted by the engine."""


class TextAnnotator(Protocol):
    """Reads the answer's text as it streams: visible text out, annotations where they belong."""

    def feed(self, text: str) -> list[str | Json]:
        """Visible pieces of ``text`` (possibly held back, possibly empty) and annotations between them."""
        ...

    def flush(self) -> list[str | Json]:
        """The end of the text part: release whatever was held back."""
        ...


class HostedTool(Protocol):
    def chat_tool(self) -> Json:
        """The chat-completions definition the provider sees (``{"type": "function", ...}``)."""
        ...

    def run(self, call: HostedCall, host: ToolHost) -> AsyncIterator[Event]:
        """The events of the items this call adds; a failure raises ``ToolFailed``."""
        ...

    def annotator(self, context: Sequence[Item]) -> TextAnnotator | None:
        """What reads the next answer for this tool's citations, given the items so far; None: nothing."""
        ...


@runtime_checkable
class ToolGroup(Protocol):
    """A hosted tool that offers the model several functions, found as the turn starts (MCP)."""

    def open(self, host: ToolHost, context: Sequence[Item]) -> AsyncIterator[Event]:
        """The events of the items it adds before the first model call (e.g. the tools it listed);
        it offers its tools through ``host.offer``. A failure is an item, not an exception."""
        ...


class ChatNames(Protocol):
    def chat_name(self, name: str, namespace: str | None) -> str:
        """The name the provider knows a tool by."""
        ...


@dataclass
class ChatPiece:
    """What one stored item contributes to the chat history."""

    tool_calls: list[Json] = field(default_factory=list)
    """Tool calls of the assistant message this item belongs to."""
    messages: list[Json] = field(default_factory=list)
    """Messages that follow it (tool results)."""


Reader = Callable[[Item, ChatNames], ChatPiece]


@dataclass(frozen=True)
class ToolServices:
    """The long-lived parts hosted tools run on, wired once in ``app.py``."""

    vector_stores: VectorStoreLibrary | None = None
    mcp: McpClients | None = None
    web_search: WebSearchBackends = field(default_factory=WebSearchBackends)


Builder = Callable[[BaseModel, ToolServices, str, str], Awaitable[HostedTool | ToolGroup | None]]
"""Build a tool from its validated request definition for one owner (then ``param``, the tool's place
in the request, e.g. ``tools[2]``, for errors); None: not hosted after all."""


@dataclass(frozen=True)
class HostedToolType:
    build: Builder
    readers: dict[str, Reader]
    """Chat readers of the output item types this tool adds."""
    included: dict[str, tuple[str, str]] = field(default_factory=dict)
    """``include`` values -> (item type, field) that is only sent when asked for."""
    private: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Item type -> fields kept for the model's later reads that the caller is never sent."""


def short_call_id(item: Item) -> str:
    """A short stable tool-call id for an item in the chat history (some servers cap ids at 40
    characters): ``call_`` and the start of the item id's random part."""
    return "call_" + str(item["id"]).split("_", 1)[-1][:24]


def call_piece(item: Item, name: str, arguments: str, result: Any) -> ChatPiece:
    """A hosted call as the model saw it: one function call, and its result as a tool message."""
    call_id = short_call_id(item)
    function = {"name": name, "arguments": arguments}
    return ChatPiece(
        tool_calls=[{"id": call_id, "type": "function", "function": function}],
        messages=[{"role": "tool", "tool_call_id": call_id, "content": result}],
    )


def query_call_piece(item: Item, name: str, query: str, result: Any) -> ChatPiece:
    """A search call (``{"query": ...}``) as the model saw it."""
    return call_piece(item, name, json.dumps({"query": query}, separators=(",", ":")), result)


def query_argument(arguments: str) -> str:
    """The ``query`` argument of a search call; a model that wrote something else is searched for
    what it wrote."""
    try:
        decoded = json.loads(arguments) if arguments else {}
    except json.JSONDecodeError:
        return arguments.strip()
    if isinstance(decoded, dict):
        value = decoded.get("query")
        if isinstance(value, str):
            return value
        return " ".join(str(v) for v in decoded.values() if isinstance(v, str))
    return str(decoded)

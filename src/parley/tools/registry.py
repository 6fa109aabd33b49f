"""Hosted tools by the ``type`` a request declares them with: the one list the engine asks."""

from __future__ import annotations

from typing import Any

from parley.tools import file_search, web_search
from parley.tools.base import HostedToolType, Json, Reader
from parley.tools.file_search import FILE_SEARCH
from parley.tools.mcp import MCP, SEPARATOR, chat_name
from parley.tools.tool_search import TOOL_SEARCH
from parley.tools.web_search import WEB_SEARCH, WEB_SEARCH_TYPES
from parley.wire.tools import HostedChoice, McpChoice

HOSTED: dict[str, HostedToolType] = {
    "tool_search": TOOL_SEARCH,
    "file_search": FILE_SEARCH,
    "mcp": MCP,
    **dict.fromkeys(WEB_SEARCH_TYPES, WEB_SEARCH),
}

READERS: dict[str, Reader] = {kind: read for tool in HOSTED.values() for kind, read in tool.readers.items()}
"""Chat readers by output item type, whether or not this request declares the tool again."""

INCLUDABLE: dict[str, tuple[str, str]] = {
    name: field for tool in HOSTED.values() for name, field in tool.included.items()
}
"""``include`` values that add a hosted item's field to what the caller is sent."""

PRIVATE: dict[str, tuple[str, ...]] = {
    kind: fields for tool in HOSTED.values() for kind, fields in tool.private.items()
}
"""Fields of hosted items that only the model reads back (never in what the caller is sent)."""


FORCED_CHAT_NAMES: dict[str, str] = {
    "file_search": file_search.NAME,
    **dict.fromkeys(WEB_SEARCH_TYPES, web_search.NAME),
}
"""The function a ``tool_choice`` that forces a hosted tool type makes the model call."""


def forced_hosted(choice: HostedChoice | McpChoice, tools: list[Json]) -> tuple[Any, list[Json]]:
    """The chat ``tool_choice`` (and tools) that force a hosted tool: its function, or for an MCP
    server named without a tool, any of that server's functions."""
    if isinstance(choice, HostedChoice):
        return {"type": "function", "function": {"name": FORCED_CHAT_NAMES[choice.type]}}, tools
    if choice.name is not None:
        return {"type": "function", "function": {"name": chat_name(choice.server_label, choice.name)}}, tools
    prefix = f"{choice.server_label}{SEPARATOR}"
    return "required", [
        tool for tool in tools if str(tool.get("function", {}).get("name", "")).startswith(prefix)
    ]

"""Hosted tools by the ``type`` a request declares them with: the one list the engine asks."""

from __future__ import annotations

from parley.tools.base import HostedToolType, Reader
from parley.tools.file_search import FILE_SEARCH
from parley.tools.mcp import MCP
from parley.tools.tool_search import TOOL_SEARCH
from parley.tools.web_search import WEB_SEARCH, WEB_SEARCH_TYPES

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

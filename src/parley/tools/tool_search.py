"""Hosted ``tool_search``: BM25 over the names and descriptions of deferred tools.

With ``execution: "server"`` Parley searches the tools held back with
``defer_loading`` itself, between model calls, and loads what it finds; with
``"client"`` the search is a client-side call (``engine/toolset.py``) and this
module is not involved. Scoring comes from ``bm25s`` rather than a hand-rolled
formula; a tool's name is split on ``_``/``-``/``.`` and camel case so
``send_email`` matches "email".
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from parley.ids import new_id
from parley.tools.base import (
    ChatNames,
    ChatPiece,
    HostedCall,
    HostedToolType,
    Item,
    Json,
    ToolHost,
    ToolServices,
)
from parley.wire import events
from parley.wire.events import Event
from parley.wire.response import tool_definition
from parley.wire.tools import ToolSearchTool

_WORD_BREAKS = re.compile(r"[_\-.:]+|(?<=[a-z])(?=[A-Z])")
_DEFAULT_PARAMETERS: Json = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "What kind of tool is needed."}},
    "required": ["query"],
}


class Searchable(Protocol):
    name: str
    description: str | None


def _document(tool: Searchable, namespace: str | None) -> str:
    words = _WORD_BREAKS.sub(" ", tool.name)
    return " ".join(filter(None, [namespace or "", words, tool.name, tool.description or ""]))


def search_tools(
    query: str, candidates: Sequence[tuple[str | None, Searchable]], limit: int = 5
) -> list[tuple[str | None, Any]]:
    """The candidates (namespace, tool) that match ``query``, best first; none when nothing matches."""
    if not candidates or not query.strip():
        return []
    import bm25s  # numpy comes with it: loaded on first search, not at start-up

    corpus = [_document(tool, namespace) for namespace, tool in candidates]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
    k = min(limit, len(candidates))
    indices, scores = retriever.retrieve(tokens, k=k, show_progress=False)
    return [candidates[int(i)] for i, score in zip(indices[0], scores[0], strict=True) if score > 0]


def _query(arguments: Any) -> str:
    """The search text, whatever the parameter is called."""
    if isinstance(arguments, dict):
        return " ".join(str(v) for v in arguments.values() if isinstance(v, str))
    return str(arguments or "")


def _decoded(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return text


def _definition(tool: Any) -> Json:
    return {k: v for k, v in tool_definition(tool).items() if k != "defer_loading"}


def loaded_tools(found: list[tuple[str | None, Any]]) -> list[Json]:
    """Found tools as ``tool_search_output.tools``: namespace members grouped under their namespace."""
    tools: list[Json] = []
    namespaces: dict[str, Json] = {}
    for namespace, tool in found:
        if namespace is None:
            tools.append(_definition(tool))
            continue
        if namespace not in namespaces:
            namespaces[namespace] = {"type": "namespace", "name": namespace, "description": "", "tools": []}
            tools.append(namespaces[namespace])
        namespaces[namespace]["tools"].append(_definition(tool))
    return tools


def chat_tool(definition: ToolSearchTool) -> Json:
    """The function the model searches with, whoever runs the search."""
    function = {
        "name": "tool_search",
        "description": definition.description or "Search for tools that are not loaded yet, by what they do.",
        "parameters": definition.parameters or _DEFAULT_PARAMETERS,
    }
    return {"type": "function", "function": function}


class ServerToolSearch:
    def __init__(self, definition: ToolSearchTool) -> None:
        self._definition = definition

    def chat_tool(self) -> Json:
        return chat_tool(self._definition)

    def annotator(self, context: Sequence[Item]) -> None:
        return None

    async def run(self, call: HostedCall, host: ToolHost) -> AsyncIterator[Event]:
        arguments = _decoded(call.arguments)
        search: Item = {
            "id": new_id("tsc"),
            "type": "tool_search_call",
            "status": "completed",
            "call_id": call.call_id,
            "arguments": arguments,
            "execution": "server",
        }
        yield events.output_item_added({**search, "status": "in_progress"})
        yield events.output_item_done(search)
        tools = loaded_tools(search_tools(_query(arguments), host.deferred))
        host.load(tools)
        output: Item = {
            "id": new_id("tso"),
            "type": "tool_search_output",
            "status": "completed",
            "call_id": call.call_id,
            "execution": "server",
            "tools": tools,
        }
        yield events.output_item_added(output)
        yield events.output_item_done(output)


def read_call(item: Item, names: ChatNames) -> ChatPiece:
    arguments = item.get("arguments")
    text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    function = {"name": "tool_search", "arguments": text}
    call = {"id": item.get("call_id") or item["id"], "type": "function", "function": function}
    return ChatPiece(tool_calls=[call])


def read_output(item: Item, names: ChatNames) -> ChatPiece:
    """The loaded tools, by the names the model can now call them."""
    found = []
    for tool in item["tools"]:
        is_namespace = tool.get("type") == "namespace"
        namespace = tool.get("name") if is_namespace else None
        for member in (tool.get("tools") or ()) if is_namespace else [tool]:
            name = names.chat_name(str(member.get("name")), namespace)
            found.append({"name": name, "description": member.get("description") or ""})
    content = json.dumps({"loaded_tools": found})
    return ChatPiece(
        messages=[{"role": "tool", "tool_call_id": item.get("call_id") or item["id"], "content": content}]
    )


async def build(
    definition: BaseModel, services: ToolServices, owner: str, param: str
) -> ServerToolSearch | None:
    """Hosted only with ``execution: "server"``; a client-run search is an ordinary client tool."""
    assert isinstance(definition, ToolSearchTool)
    return ServerToolSearch(definition) if definition.execution == "server" else None


TOOL_SEARCH = HostedToolType(
    build=build, readers={"tool_search_call": read_call, "tool_search_output": read_output}
)

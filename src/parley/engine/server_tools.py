"""Calls the model makes to tools Parley runs itself, and what they become in the output.

Each server-side call item type has one runner here; a runner yields the
events of the items it adds (the engine stamps them) and updates the turn so
the next model call sees the result. Client-side calls end the response and
wait for the caller's outputs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from parley.engine.prepare import Turn
from parley.ids import new_id
from parley.tools.tool_search import search_tools
from parley.wire import events
from parley.wire.events import Event
from parley.wire.items import Item
from parley.wire.response import tool_definition

CLIENT_CALLS = frozenset({"function_call", "custom_tool_call"})


def is_server_call(item: Item) -> bool:
    return item["type"] == "tool_search_call" and item.get("execution") == "server"


def is_client_call(item: Item) -> bool:
    return item["type"] in CLIENT_CALLS or (item["type"] == "tool_search_call" and not is_server_call(item))


def _query(arguments: Any) -> str:
    """The search text, whatever the parameter is called."""
    if isinstance(arguments, dict):
        return " ".join(str(v) for v in arguments.values() if isinstance(v, str))
    return str(arguments or "")


def _loaded_tools(found: list[tuple[str | None, Any]]) -> list[dict[str, Any]]:
    """Found tools as ``tool_search_output.tools``: namespace members grouped under their namespace."""
    tools: list[dict[str, Any]] = []
    namespaces: dict[str, dict[str, Any]] = {}
    for namespace, tool in found:
        definition = {k: v for k, v in tool_definition(tool).items() if k != "defer_loading"}
        if namespace is None:
            tools.append(definition)
        else:
            if namespace not in namespaces:
                namespaces[namespace] = {
                    "type": "namespace",
                    "name": namespace,
                    "description": "",
                    "tools": [],
                }
                tools.append(namespaces[namespace])
            namespaces[namespace]["tools"].append(definition)
    return tools


async def _tool_search(turn: Turn, call: Item) -> AsyncIterator[Event]:
    tools = _loaded_tools(search_tools(_query(call.get("arguments")), turn.toolset.deferred))
    turn.toolset.load(tools)
    output = {
        "id": new_id("tso"),
        "type": "tool_search_output",
        "status": "completed",
        "call_id": call.get("call_id"),
        "execution": "server",
        "tools": tools,
    }
    turn.context.append(output)
    yield events.output_item_added(output)
    yield events.output_item_done(output)


RUNNERS: dict[str, Callable[[Turn, Item], AsyncIterator[Event]]] = {"tool_search_call": _tool_search}


def run_server_call(turn: Turn, call: Item) -> AsyncIterator[Event]:
    return RUNNERS[call["type"]](turn, call)

"""Hosted ``mcp``: a remote MCP server's tools, listed as the turn starts and called by Parley.

Each declared server is a ``ToolGroup``. As the turn starts it lists the
server's tools (an ``mcp_list_tools`` item), unless the context already has
that server's list (a chain or conversation lists once), and offers the model
each allowed tool as one function named ``<server_label>__<tool>``. A call
becomes an ``mcp_call`` item with the tool's output or its error; a tool that
needs approval becomes an ``mcp_approval_request`` that ends the response. A
later request answers it with an ``mcp_approval_response``: approved, the call
runs as that request starts; denied, the model is told so.

A server that cannot be reached gives an ``mcp_list_tools`` item with its
``error`` and the response goes on without those tools. ``authorization`` and
``headers`` live only in this response's memory (see ``McpTool``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import BaseModel

from parley.errors import InvalidRequest, ServiceUnavailable
from parley.ids import new_id
from parley.providers.mcp_client import McpClients, McpError, McpToolError
from parley.tools.base import (
    ChatNames,
    ChatPiece,
    HostedCall,
    HostedToolType,
    Item,
    Json,
    ToolHost,
    ToolServices,
    call_piece,
)
from parley.tools.deadline import within
from parley.wire import events
from parley.wire.events import Event
from parley.wire.tools import McpApprovalFilter, McpTool, McpToolFilter

SEPARATOR = "__"


def chat_name(server_label: str, name: str) -> str:
    """The function name the model calls a server's tool by (unique per server label)."""
    return f"{server_label}{SEPARATOR}{name}"[:64]


def _named(names: list[str] | None, name: str) -> bool:
    return names is not None and name in names


def _matches(rule: McpToolFilter | None, name: str, annotations: Json | None) -> bool:
    if rule is None:
        return False
    if rule.read_only and (annotations or {}).get("readOnlyHint"):
        return True
    return _named(rule.tool_names, name)


class McpServer:
    """One declared server, for one response."""

    def __init__(self, definition: McpTool, clients: McpClients) -> None:
        self.definition = definition
        self.label = definition.server_label
        self._clients = clients
        self._url = definition.server_url or ""
        headers = dict(definition.headers or {})
        if definition.authorization:
            headers["authorization"] = f"Bearer {definition.authorization}"
        self._headers = headers

    def allowed(self, name: str, annotations: Json | None = None) -> bool:
        rule = self.definition.allowed_tools
        if rule is None:
            return True
        if isinstance(rule, list):
            return name in rule
        return _matches(rule, name, annotations) or (rule.tool_names is None and not rule.read_only)

    def needs_approval(self, name: str, annotations: Json | None = None) -> bool:
        rule = self.definition.require_approval
        if rule is None or rule == "always":
            return True
        if rule == "never":
            return False
        assert isinstance(rule, McpApprovalFilter)
        if _matches(rule.never, name, annotations):
            return False
        return _matches(rule.always, name, annotations) or rule.always is None

    async def open(self, host: ToolHost, context: Sequence[Item]) -> AsyncIterator[Event]:
        listed = next(
            (
                item
                for item in reversed(context)
                if item["type"] == "mcp_list_tools"
                and item.get("server_label") == self.label
                and not item.get("error")
            ),
            None,
        )
        if listed is None:
            item: Item = {
                "id": new_id("mcp"),
                "type": "mcp_list_tools",
                "server_label": self.label,
                "tools": [],
            }
            yield events.output_item_added(item)
            yield _progress("mcp_list_tools", "in_progress", item)
            try:
                listing = self._clients.list_tools(self._url, self._headers)
                tools = await within(host.deadline, listing, McpError, "mcp_list_tools")
            except McpError as exc:
                yield _progress("mcp_list_tools", "failed", item)
                yield events.output_item_done({**item, "error": exc.message})
                return
            listed = {**item, "tools": [_listed_tool(tool) for tool in tools if self.allowed(tool.name)]}
            yield _progress("mcp_list_tools", "completed", item)
            yield events.output_item_done(listed)
        offered = [t for t in listed["tools"] if self.allowed(t["name"], t.get("annotations"))]
        host.offer([McpCallTool(self, tool) for tool in offered])
        async for event in self._approved_calls(host, context):
            yield event

    async def _approved_calls(self, host: ToolHost, context: Sequence[Item]) -> AsyncIterator[Event]:
        """Run the calls an ``mcp_approval_response`` approved and no ``mcp_call`` has answered yet."""
        requests = {
            item["id"]: item
            for item in context
            if item["type"] == "mcp_approval_request" and item.get("server_label") == self.label
        }
        if not requests:
            return
        answered = {item.get("approval_request_id") for item in context if item["type"] == "mcp_call"}
        for item in context:
            request_id = item.get("approval_request_id")
            if item["type"] != "mcp_approval_response" or not item.get("approve"):
                continue
            if request_id in requests and request_id not in answered:
                answered.add(request_id)
                host.claim_call()
                request = requests[request_id]
                call = self.call(request["name"], request["arguments"], request_id, host.deadline)
                async for event in call:
                    yield event

    async def call(
        self, name: str, arguments: str, approval_request_id: str | None, deadline: float | None = None
    ) -> AsyncIterator[Event]:
        item: Item = {
            "id": new_id("mcp"),
            "type": "mcp_call",
            "status": "in_progress",
            "server_label": self.label,
            "name": name,
            "arguments": arguments,
            "approval_request_id": approval_request_id,
            "output": None,
            "error": None,
        }
        yield events.output_item_added(item)
        yield _progress("mcp_call", "in_progress", item)
        yield {"type": "response.mcp_call_arguments.delta", "item_id": item["id"], "delta": arguments}
        yield {"type": "response.mcp_call_arguments.done", "item_id": item["id"], "arguments": arguments}
        try:
            output = await within(deadline, self._run(name, arguments), McpError, "mcp_call")
        except McpError as exc:
            yield _progress("mcp_call", "failed", item)
            yield events.output_item_done({**item, "status": "failed", "error": _error(exc)})
            return
        yield _progress("mcp_call", "completed", item)
        yield events.output_item_done({**item, "status": "completed", "output": output})

    async def _run(self, name: str, arguments: str) -> str:
        if not self.allowed(name):
            raise McpToolError(f"The tool '{name}' is not in allowed_tools of server '{self.label}'.")
        try:
            decoded = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            raise McpToolError(f"The arguments are not valid JSON: {arguments[:200]}") from None
        if not isinstance(decoded, dict):
            raise McpToolError("The arguments must be a JSON object.")
        return await self._clients.call_tool(self._url, self._headers, name, decoded)


class McpCallTool:
    """One of a server's tools, as the model is offered it."""

    def __init__(self, server: McpServer, tool: Json) -> None:
        self._server = server
        self._tool = tool

    def chat_tool(self) -> Json:
        function: Json = {"name": chat_name(self._server.label, self._tool["name"])}
        if self._tool.get("description"):
            function["description"] = self._tool["description"]
        function["parameters"] = self._tool.get("input_schema") or {"type": "object", "properties": {}}
        return {"type": "function", "function": function}

    def annotator(self, context: Sequence[Item]) -> None:
        return None

    async def run(self, call: HostedCall, host: ToolHost) -> AsyncIterator[Event]:
        name = str(self._tool["name"])
        if self._server.needs_approval(name, self._tool.get("annotations")):
            request: Item = {
                "id": new_id("mcp"),
                "type": "mcp_approval_request",
                "server_label": self._server.label,
                "name": name,
                "arguments": call.arguments,
            }
            yield events.output_item_added(request)
            yield events.output_item_done(request)
            return
        async for event in self._server.call(name, call.arguments, None, host.deadline):
            yield event


def _listed_tool(tool: Any) -> Json:
    listed: Json = {"name": tool.name, "input_schema": tool.input_schema}
    listed["description"] = tool.description
    listed["annotations"] = tool.annotations
    return listed


def _progress(kind: str, stage: str, item: Item) -> Event:
    return {"type": f"response.{kind}.{stage}", "item_id": item["id"]}


def _error(exc: McpError) -> Json:
    if isinstance(exc, McpToolError):
        return {"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": exc.message}]}
    return {"type": "mcp_protocol_error", "code": -32000, "message": exc.message}


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        texts = [str(part.get("text", "")) for part in error.get("content") or () if isinstance(part, dict)]
        return " ".join(texts) or str(error.get("message", ""))
    return str(error)


def read_list(item: Item, names: ChatNames) -> ChatPiece:
    """The model knows a server's tools from the functions it is offered, not from this item."""
    return ChatPiece()


def _call_piece(item: Item, result: str) -> ChatPiece:
    return call_piece(
        item, chat_name(item["server_label"], item["name"]), item.get("arguments") or "{}", result
    )


def read_call(item: Item, names: ChatNames) -> ChatPiece:
    if item.get("error"):
        return _call_piece(item, f"Error: {_error_text(item['error'])}")
    return _call_piece(item, str(item.get("output") or ""))


def read_approval_request(item: Item, names: ChatNames) -> ChatPiece:
    return _call_piece(item, f"Not run yet: this call waits for the user's approval (request {item['id']}).")


def read_approval_response(item: Item, names: ChatNames) -> ChatPiece:
    """An approval adds nothing (the ``mcp_call`` that follows says what happened); a denial is said."""
    if item.get("approve"):
        return ChatPiece()
    reason = f" Reason: {item['reason']}" if item.get("reason") else ""
    text = f"The user denied the tool call of approval request {item['approval_request_id']}; it was not run."
    return ChatPiece(messages=[{"role": "user", "content": text + reason}])


async def build(definition: BaseModel, services: ToolServices, owner: str, param: str) -> McpServer:
    assert isinstance(definition, McpTool)
    if services.mcp is None:
        raise ServiceUnavailable("This server does not connect to MCP servers.", code="mcp_unavailable")
    if not definition.server_url:
        raise InvalidRequest(
            "An mcp tool needs a 'server_url' (connectors are not supported).",
            param=f"{param}.server_url",
            code="missing_required_parameter",
        )
    return McpServer(definition, services.mcp)


MCP = HostedToolType(
    build=build,
    readers={
        "mcp_list_tools": read_list,
        "mcp_call": read_call,
        "mcp_approval_request": read_approval_request,
        "mcp_approval_response": read_approval_response,
    },
)

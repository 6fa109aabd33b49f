"""The MCP tool's rules and readers, and the client's address check and pool, without a model."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from parley.errors import InvalidRequest, ServiceUnavailable
from parley.providers import mcp_client
from parley.providers.mcp_client import McpClients, McpError, check_public
from parley.tools.base import ToolServices
from parley.tools.mcp import (
    McpServer,
    build,
    chat_name,
    read_approval_request,
    read_approval_response,
    read_call,
    read_list,
)
from parley.wire.tools import McpTool, without_credentials
from tests.support.mcp_server import McpTestServer
from tests.support.workers import free_port


def server(**options: Any) -> McpServer:
    definition = McpTool.model_validate(
        {"type": "mcp", "server_label": "demo", "server_url": "http://example.test/mcp", **options}
    )
    return McpServer(definition, McpClients(httpx2.AsyncHTTPTransport()))


@pytest.mark.parametrize(
    ("rule", "name", "annotations", "expected"),
    [
        (None, "add", None, True),
        ("always", "add", None, True),
        ("never", "add", None, False),
        ({"never": {"tool_names": ["add"]}}, "add", None, False),
        ({"never": {"tool_names": ["add"]}}, "greet", None, True),
        ({"always": {"tool_names": ["add"]}}, "add", None, True),
        ({"always": {"tool_names": ["add"]}}, "greet", None, False),
        ({"never": {"read_only": True}}, "look", {"readOnlyHint": True}, False),
    ],
)
def test_require_approval_rules(rule: Any, name: str, annotations: Any, expected: bool) -> None:
    assert server(require_approval=rule).needs_approval(name, annotations) is expected


@pytest.mark.parametrize(
    ("rule", "name", "expected"),
    [
        (None, "add", True),
        (["greet"], "add", False),
        (["greet"], "greet", True),
        ({"tool_names": ["add"]}, "add", True),
        ({"tool_names": ["add"]}, "greet", False),
        ({}, "greet", True),
    ],
)
def test_allowed_tools_rules(rule: Any, name: str, expected: bool) -> None:
    assert server(allowed_tools=rule).allowed(name) is expected


def test_credentials_are_never_echoed() -> None:
    definition = McpTool.model_validate(
        {
            "type": "mcp",
            "server_label": "x",
            "server_url": "http://h/mcp",
            "authorization": "t",
            "headers": {},
        }
    )
    assert definition.model_dump(exclude_none=True) == {
        "type": "mcp",
        "server_label": "x",
        "server_url": "http://h/mcp",
    }


def test_chat_names_are_unique_per_server_and_fit() -> None:
    assert chat_name("a", "add") == "a__add"
    assert chat_name("b", "add") != chat_name("a", "add")
    assert len(chat_name("x" * 60, "y" * 60)) == 64


def test_readers() -> None:
    names: Any = None
    call = {"id": "mcp_1", "type": "mcp_call", "server_label": "s", "name": "add", "arguments": "{}"}
    assert read_list({"type": "mcp_list_tools"}, names).tool_calls == []
    piece = read_call({**call, "output": "3"}, names)
    assert piece.tool_calls[0]["function"]["name"] == "s__add"
    assert piece.messages[0]["content"] == "3"
    failed = {**call, "error": {"type": "mcp_protocol_error", "code": 1, "message": "down"}}
    assert read_call(failed, names).messages[0]["content"] == "Error: down"
    assert read_call({**call, "error": "plain"}, names).messages[0]["content"] == "Error: plain"
    request = {**call, "type": "mcp_approval_request"}
    assert "approval" in read_approval_request(request, names).messages[0]["content"]
    approved = {"type": "mcp_approval_response", "approval_request_id": "mcp_1", "approve": True}
    assert read_approval_response(approved, names).messages == []
    denied = read_approval_response({**approved, "approve": False}, names).messages[0]["content"]
    assert "denied" in denied
    assert "not run" in denied


async def test_build_needs_the_mcp_service_and_a_url() -> None:
    definition = McpTool.model_validate({"type": "mcp", "server_label": "x", "server_url": "http://h/mcp"})
    with pytest.raises(ServiceUnavailable):
        await build(definition, ToolServices(), "owner", "tools[0]")
    services = ToolServices(mcp=McpClients(httpx2.AsyncHTTPTransport()))
    no_url = McpTool.model_validate({"type": "mcp", "server_label": "x", "connector_id": "c"})
    with pytest.raises(InvalidRequest) as raised:
        await build(no_url, services, "owner", "tools[0]")
    assert raised.value.param == "tools[0].server_url"
    assert isinstance(await build(definition, services, "owner", "tools[0]"), McpServer)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/mcp", "http://127.0.0.1/mcp", "http://[::1]/mcp", "http://169.254.169.254/x"]
)
async def test_non_public_urls_are_refused(url: str) -> None:
    with pytest.raises(McpError):
        await check_public(url)


async def test_an_unresolvable_host_is_refused() -> None:
    with pytest.raises(McpError, match="Cannot resolve"):
        await check_public("http://no-such-host.invalid/mcp")


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[McpTestServer]:
    started = McpTestServer().start()
    yield started
    started.stop()


async def test_sessions_are_pooled_and_expire(
    mcp_server: McpTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = McpClients(httpx2.AsyncHTTPTransport(), allow_private=True)
    try:
        first = await clients.list_tools(mcp_server.http_url, {})
        assert await clients.call_tool(mcp_server.http_url, {}, "add", {"a": 1, "b": 2}) == "3"
        assert len(clients._sessions) == 1
        assert [tool.name for tool in first] == [
            tool.name for tool in await clients.list_tools(mcp_server.http_url, {})
        ]
        assert len(clients._sessions) == 1
        monkeypatch.setattr(mcp_client, "IDLE_SECONDS", -1.0)
        await clients.list_tools(mcp_server.sse_url, {})
        assert [key[0] for key in clients._sessions] == [mcp_server.sse_url]
    finally:
        await clients.aclose()
    assert clients._sessions == {}


async def test_a_server_that_is_down_is_an_mcp_error() -> None:
    clients = McpClients(httpx2.AsyncHTTPTransport(), allow_private=True)
    with pytest.raises(McpError, match="Cannot connect"):
        await clients.list_tools(f"http://127.0.0.1:{free_port()}/mcp", {})
    assert clients._sessions == {}


def test_a_kept_request_body_has_no_mcp_credentials() -> None:
    mcp = {"type": "mcp", "server_label": "x", "authorization": "t", "headers": {"a": "b"}}
    body = {"model": "m", "tools": [mcp, {"type": "function", "name": "f", "headers": 1}]}
    assert without_credentials(body)["tools"] == [
        {"type": "mcp", "server_label": "x"},
        {"type": "function", "name": "f", "headers": 1},
    ]
    assert without_credentials({"model": "m"}) == {"model": "m"}


async def _done(events: Any) -> dict[str, Any]:
    items = [event["item"] async for event in events if event["type"] == "response.output_item.done"]
    return dict(items[-1])


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("add", "{}", "not in allowed_tools"),
        ("greet", "{not json", "not valid JSON"),
        ("greet", "[1]", "must be a JSON object"),
    ],
)
async def test_calls_refused_before_reaching_the_server(name: str, arguments: str, message: str) -> None:
    done = await _done(server(allowed_tools=["greet"]).call(name, arguments, None))
    assert done["status"] == "failed"
    assert done["error"]["type"] == "mcp_tool_execution_error"
    assert message in done["error"]["content"][0]["text"]


async def test_a_server_that_goes_away_mid_session_is_an_mcp_error() -> None:
    gone = McpTestServer().start()
    clients = McpClients(httpx2.AsyncHTTPTransport(), allow_private=True)
    try:
        await clients.list_tools(gone.http_url, {})
        gone.stop()
        with pytest.raises(McpError, match="failed"):
            await clients.call_tool(gone.http_url, {}, "add", {"a": 1, "b": 2})
        assert clients._sessions == {}
    finally:
        await clients.aclose()


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
async def test_a_server_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """The configured CONNECT_TIMEOUT governs, not the SDK's or httpx's longer read timeouts."""
    monkeypatch.setattr(mcp_client, "CONNECT_TIMEOUT", 0.2)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}{path}"
        clients = McpClients(httpx2.AsyncHTTPTransport(), allow_private=True)
        started = time.monotonic()
        with pytest.raises(McpError):
            await clients.list_tools(url, {})
        await clients.aclose()
        assert time.monotonic() - started < 1.5

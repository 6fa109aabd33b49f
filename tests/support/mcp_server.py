"""A real MCP server (the ``mcp`` SDK's ``MCPServer``) on loopback, over both transports.

``McpTestServer`` runs two uvicorn servers in a thread of their own: streamable
HTTP at ``{http_url}`` (path ``/mcp``) and SSE at ``{sse_url}`` (path ``/sse``).
It remembers the ``authorization`` header of every request it was sent, so a test
can check that a bearer token reaches the server.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.support.workers import free_port


def build_server() -> MCPServer:
    server = MCPServer("parley-test")

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Say hello to someone.")
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    @server.tool(description="Always fails.")
    def explode() -> str:
        raise ValueError("boom")

    return server


class _Headers:
    """ASGI middleware keeping the ``authorization`` header of every HTTP request."""

    def __init__(self, app: ASGIApp, seen: list[str | None]) -> None:
        self._app = app
        self._seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            value = headers.get(b"authorization")
            self._seen.append(value.decode() if value is not None else None)
        await self._app(scope, receive, send)


class McpTestServer:
    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        mcp = build_server()
        http_app = _Headers(mcp.streamable_http_app(), self.authorizations)
        sse_app = _Headers(mcp.sse_app(), self.authorizations)
        self._servers = [self._server(http_app), self._server(sse_app)]
        self.http_url = f"http://127.0.0.1:{self._servers[0].config.port}/mcp"
        self.sse_url = f"http://127.0.0.1:{self._servers[1].config.port}/sse"
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _server(app: Any) -> uvicorn.Server:
        config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on")
        return uvicorn.Server(config)

    def _run(self) -> None:
        async def both() -> None:
            await asyncio.gather(*(server.serve() for server in self._servers))

        asyncio.run(both())

    def start(self) -> McpTestServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not all(server.started for server in self._servers):
            if time.monotonic() > deadline:  # pragma: no cover - a broken environment
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """At once: open sessions are dropped, not waited for (a test may stop it mid-session)."""
        for server in self._servers:
            server.should_exit = server.force_exit = True
        self._thread.join(timeout=10)

"""Remote MCP servers through the ``mcp`` SDK: pooled sessions on Parley's outbound transport.

One session is kept per (server URL, headers): the first use opens it, later
responses reuse it, and one that fails is dropped so the next use opens a new
one. A session lives in a task of its own (the SDK's transports are anyio task
groups, which must be left by the task that entered them). The transport is
picked by the URL: a path ending ``/sse`` speaks the SSE transport, anything
else streamable HTTP. Every HTTP request goes through the ``httpx2`` transport
``app.py`` gives (the one that carries the recorder).

Before connecting, the server's host is resolved and refused when any address
is private, loopback, link-local or otherwise not public, unless the settings
allow it. Header values (``authorization``) are held only in memory, in the
pool's key, and are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from parley.errors import ToolFailed

__all__ = ["McpClients", "McpError", "McpToolError", "RemoteTool"]

CONNECT_TIMEOUT = 10.0
CALL_TIMEOUT = 60.0
IDLE_SECONDS = 300.0


class McpError(ToolFailed):
    """An MCP server could not be reached, refused, or answered with an error."""


class McpToolError(McpError):
    """The server ran the tool and the tool reported an error (``isError``)."""


@dataclass(frozen=True)
class RemoteTool:
    name: str
    description: str | None
    input_schema: dict[str, Any]
    annotations: dict[str, Any] | None = None


DRAIN_SECONDS = 0.05
DRAIN_BYTES = 65536


class _DrainingTransport(httpx2.AsyncBaseTransport):
    """Reads what is left of an answer closed early, so that its connection goes back to the pool.

    The SDK closes each call's SSE answer as soon as it holds the JSON-RPC response, just before the
    server ends it; closed unread, the connection is dropped, and every call paid a new one
    (``benchmarks/bench_hosted.py``: 420 connections for 420 requests). The rest is read for a
    moment (``DRAIN_SECONDS``, ``DRAIN_BYTES``), then the answer is closed as asked.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        drained = _Drained(response.stream)
        return httpx2.Response(
            response.status_code, headers=response.headers, stream=drained, extensions=response.extensions
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Drained(httpx2.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._chunks: AsyncIterator[bytes] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._chunks = self._stream.__aiter__()
        async for chunk in self._chunks:
            yield chunk
        self._chunks = None

    async def aclose(self) -> None:
        if self._chunks is not None:
            read = 0
            with contextlib.suppress(Exception):
                async with asyncio.timeout(DRAIN_SECONDS):
                    async for chunk in self._chunks:
                        read += len(chunk)
                        if read > DRAIN_BYTES:
                            break
        await self._stream.aclose()


class _Session:
    """One open session, served by its own task until ``aclose``."""

    def __init__(self, url: str, headers: dict[str, str], transport: httpx2.AsyncBaseTransport) -> None:
        self._url, self._headers, self._transport = url, headers, transport
        self._ready: asyncio.Future[ClientSession] = asyncio.get_running_loop().create_future()
        self._closing = asyncio.Event()
        self._task = asyncio.create_task(self._serve())
        self.used = time.monotonic()

    def _client(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        timeout = timeout or httpx2.Timeout(CONNECT_TIMEOUT, read=CALL_TIMEOUT)
        return httpx2.AsyncClient(transport=self._transport, headers=self._headers, timeout=timeout)

    @contextlib.asynccontextmanager
    async def _streams(self) -> AsyncIterator[Any]:
        if urlsplit(self._url).path.rstrip("/").endswith("/sse"):
            async with sse_client(self._url, timeout=CONNECT_TIMEOUT, httpx_client_factory=self._client) as s:
                yield s
        else:
            async with self._client() as http, streamable_http_client(self._url, http_client=http) as s:
                yield s

    async def _serve(self) -> None:
        try:
            async with self._streams() as (read, write, *_), ClientSession(read, write) as session:
                # The handshake's answer is read under the call's read timeout (httpx) and no SDK
                # timeout at all: a server that accepts and never answers is given CONNECT_TIMEOUT.
                with anyio.fail_after(CONNECT_TIMEOUT):
                    await session.initialize()
                self._ready.set_result(session)
                await self._closing.wait()
        except Exception as exc:  # noqa: BLE001 -- handed to whoever waits for the session
            if not self._ready.done():
                self._ready.set_exception(exc)

    async def session(self) -> ClientSession:
        self.used = time.monotonic()
        try:
            return await asyncio.wait_for(asyncio.shield(self._ready), CONNECT_TIMEOUT)
        except TimeoutError:
            raise McpError(f"The MCP server at {self._url} did not answer in time.") from None

    async def aclose(self) -> None:
        """Close politely (the SDK ends the session with the server) within CONNECT_TIMEOUT; a session
        still opening has nothing to end and is stopped at once."""
        self._closing.set()
        if not self._ready.done():
            self._task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(self._task, CONNECT_TIMEOUT)


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"[:300]


async def check_public(url: str) -> None:
    """Refuse a URL whose host resolves to an address that is not public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise McpError(f"'{url}' is not an http(s) URL.")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443)
    except OSError as exc:
        raise McpError(f"Cannot resolve the MCP server's host '{parts.hostname}': {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise McpError(
                f"The MCP server's host '{parts.hostname}' resolves to a non-public address ({address}); "
                "set PARLEY_ALLOW_PRIVATE_URLS=1 to allow it."
            )


class McpClients:
    """The pool of MCP sessions of one Parley process."""

    def __init__(self, transport: httpx2.AsyncBaseTransport, *, allow_private: bool = False) -> None:
        self._transport = _DrainingTransport(transport)
        self._allow_private = allow_private
        self._sessions: dict[tuple[str, str], _Session] = {}

    def _key(self, url: str, headers: dict[str, str]) -> tuple[str, str]:
        digest = hashlib.sha256(repr(sorted(headers.items())).encode()).hexdigest()
        return (url, digest)

    async def _session(self, url: str, headers: dict[str, str]) -> tuple[tuple[str, str], ClientSession]:
        if not self._allow_private:
            await check_public(url)
        await self._expire()
        key = self._key(url, headers)
        if key not in self._sessions:
            self._sessions[key] = _Session(url, headers, self._transport)
        try:
            return key, await self._sessions[key].session()
        except McpError:
            await self._drop(key)
            raise
        except Exception as exc:  # noqa: BLE001 -- whatever the SDK raised, said once as McpError
            await self._drop(key)
            raise McpError(f"Cannot connect to the MCP server at {url}: {_describe(exc)}") from None

    async def _drop(self, key: tuple[str, str]) -> None:
        session = self._sessions.pop(key, None)
        if session is not None:
            await session.aclose()

    async def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._sessions.items() if now - s.used > IDLE_SECONDS]:
            await self._drop(key)

    async def list_tools(self, url: str, headers: dict[str, str]) -> list[RemoteTool]:
        key, session = await self._session(url, headers)
        try:
            listed = await session.list_tools()
        except Exception as exc:  # noqa: BLE001 -- translated once, here
            await self._drop(key)
            raise McpError(f"The MCP server at {url} could not list its tools: {_describe(exc)}") from None
        return [
            RemoteTool(
                tool.name,
                tool.description,
                dict(tool.input_schema),
                tool.annotations.model_dump(exclude_none=True) if tool.annotations else None,
            )
            for tool in listed.tools
        ]

    async def call_tool(self, url: str, headers: dict[str, str], name: str, arguments: Any) -> str:
        """The tool's text output; an error result or a failed call raises ``McpError``."""
        key, session = await self._session(url, headers)
        try:
            result = await session.call_tool(name, arguments, read_timeout_seconds=CALL_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 -- translated once, here
            await self._drop(key)
            raise McpError(f"The call to '{name}' failed: {_describe(exc)}") from None
        texts = [block.text if block.type == "text" else block.model_dump_json() for block in result.content]
        text = "\n".join(texts)
        if result.is_error:
            raise McpToolError(text or f"The tool '{name}' failed.")
        return text

    async def aclose(self) -> None:
        for key in list(self._sessions):
            await self._drop(key)

"""The aiohttp-backed transport against real sockets on loopback."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx2
import pytest

from parley.providers.aiohttp_transport import AiohttpTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.Server, str]:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(closing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    return head + await reader.readexactly(length)


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=AiohttpTransport(), timeout=httpx2.Timeout(5, read=0.5)) as c:
        yield c


async def test_streams_chunks_and_reuses_the_connection(client: httpx2.AsyncClient) -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(3):
            request = await read_request(reader)
            assert b'{"q": 1}' in request
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            )
            for piece in (b"data: a\n\n", b"data: b\n\n"):
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    server, url = await serve(handler)
    async with server:
        for _ in range(3):
            async with client.stream("POST", url, content=b'{"q": 1}') as response:
                assert response.headers["content-type"] == "text/event-stream"
                assert b"".join([c async for c in response.aiter_bytes()]) == b"data: a\n\ndata: b\n\n"
    assert connections == 1


async def test_gzip_bodies_are_decoded_once(client: httpx2.AsyncClient) -> None:
    body = gzip.compress(b'{"ok": true}')

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()

    server, url = await serve(handler)
    async with server:
        assert (await client.get(url)).json() == {"ok": True}


async def test_refused_connection_is_a_connect_error(client: httpx2.AsyncClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(httpx2.ConnectError):
        await client.get(f"http://127.0.0.1:{port}/")


async def test_silent_server_is_a_read_timeout(client: httpx2.AsyncClient) -> None:
    finished = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await finished.wait()

    server, url = await serve(handler)
    async with server:
        with pytest.raises(httpx2.ReadTimeout):
            await client.get(url)
        finished.set()
        await asyncio.sleep(0.05)


async def test_a_pooled_connection_the_server_closed_is_retried(client: httpx2.AsyncClient) -> None:
    """The server drops a kept-alive connection as the next request arrives (its idle timeout raced it)."""
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
        await writer.drain()
        await reader.read(1)  # the next request on this connection: hang up without answering

    server, url = await serve(handler)
    async with server:
        for _ in range(3):
            response = await client.post(url, content=b'{"q": 1}')
            assert response.json() == {}
    assert connections == 3

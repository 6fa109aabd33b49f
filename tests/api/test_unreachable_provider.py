"""A provider that cannot be reached, or does not answer, over real loopback sockets: the error names
the provider and its URL and says what happened in plain words, as an HTTP error and in
``response.failed`` alike."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2

from parley.app import create_app, shutdown
from parley.config import ProviderConfig
from parley.providers.aiohttp_transport import AiohttpTransport
from parley.providers.endpoint import Endpoint
from tests.api.test_responses_basic import parse_sse
from tests.conftest import make_settings


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@asynccontextmanager
async def parley_over(tmp_path: Path, url: str, timeout: float = 600.0) -> AsyncIterator[httpx2.AsyncClient]:
    """Parley in-process, its provider at ``url`` through the real (aiohttp) outbound transport."""
    provider = ProviderConfig("local-gpu", url, timeout=timeout)
    app = create_app(
        make_settings(tmp_path, providers=(provider,)), transport_factory=lambda _: AiohttpTransport()
    )
    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://parley.test")
    try:
        yield client
    finally:
        await client.aclose()
        await shutdown(app)


async def failures(client: httpx2.AsyncClient) -> tuple[httpx2.Response, str]:
    """The non-streamed answer, and the message of the streamed ``response.failed``."""
    body = {"model": "m", "input": "Hello?"}
    plain = await client.post("/v1/responses", json=body)
    streamed = await client.post("/v1/responses", json={**body, "stream": True})
    assert streamed.status_code == 200, streamed.text
    events = parse_sse(streamed.content)
    assert events[-1]["type"] == "response.failed"
    message: str = events[-1]["response"]["error"]["message"]
    return plain, message


async def test_a_refused_connection_says_so(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    async with parley_over(tmp_path, url) as client:
        plain, streamed = await failures(client)
    assert plain.status_code == 502, plain.text
    error = plain.json()["error"]
    expected = f"Provider 'local-gpu' at {url} could not be reached: connection refused"
    assert error["message"] == expected
    assert error["type"] == "upstream_error"
    assert streamed == expected
    assert "ssl:default" not in expected


async def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    accepted = 0
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        held.append(writer)  # read nothing back, answer nothing, keep the socket open

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    try:
        async with parley_over(tmp_path, url, timeout=0.3) as client:
            plain, streamed = await failures(client)
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert accepted >= 2
    assert plain.status_code == 504, plain.text
    expected = f"Provider 'local-gpu' at {url} timed out: no answer within 0.3 seconds"
    assert plain.json()["error"]["message"] == expected
    assert streamed == expected


def test_the_url_shown_never_carries_credentials() -> None:
    endpoint = Endpoint("http://user:secret@127.0.0.1:9/v1/", AiohttpTransport())
    assert endpoint.url == "http://127.0.0.1:9/v1"

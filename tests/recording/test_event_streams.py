"""Event streams through the recorder: passed on as they come while recording, saved whole, and
long-lived GET streams (MCP's channels) never recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from parley.errors import RecordingMissing
from parley.recording import RecordingMode, RecordingStore, RecordingTransport, request_key
from parley.recording import transport as recording_transport
from parley.recording.normalize import normalize_request

URL = "http://mcp.test/mcp"
EVENTS = [b'event: message\r\ndata: {"id":1}\r\n\r\n', b'event: message\r\ndata: {"id":2}\r\n\r\n']


class Upstream:
    """Answers with an event stream whose second half waits for ``go`` (never, unless set)."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.calls = 0

    async def _events(self) -> AsyncIterator[bytes]:
        yield EVENTS[0]
        await self.go.wait()
        yield EVENTS[1]

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=self._events())


def client(mode: RecordingMode, store: RecordingStore, upstream: Upstream | None) -> httpx2.AsyncClient:
    inner = None if upstream is None else httpx2.MockTransport(upstream)
    return httpx2.AsyncClient(transport=RecordingTransport(inner, mode, store))


def key(method: str, body: bytes = b"") -> str:
    return request_key(normalize_request(method, httpx2.URL(URL), body))


async def test_a_streamed_answer_is_passed_on_as_it_comes_and_saved_when_it_ends(tmp_path: Path) -> None:
    store, upstream = RecordingStore(tmp_path), Upstream()
    async with client("record", store, upstream) as c, c.stream("POST", URL, content=b"{}") as response:
        chunks = response.aiter_bytes()
        async with asyncio.timeout(5):  # a recorder that buffered the answer would wait for ``go``
            assert await anext(chunks) == EVENTS[0]  # before the upstream has sent the rest
        assert store.load(key("POST", b"{}")) is None
        upstream.go.set()
        assert b"".join([chunk async for chunk in chunks]) == EVENTS[1]
    recording = store.load(key("POST", b"{}"))
    assert recording is not None
    assert recording.content == b"".join(EVENTS).replace(b"\r\n", b"\n")
    async with client("replay", store, None) as c:
        assert (await c.post(URL, content=b"{}")).text == recording.content.decode()


async def test_an_answer_closed_before_its_end_is_read_to_its_end_then_saved(tmp_path: Path) -> None:
    store, upstream = RecordingStore(tmp_path), Upstream()
    async with client("record", store, upstream) as c, c.stream("POST", URL, content=b"{}") as response:
        assert await anext(response.aiter_bytes()) == EVENTS[0]
        asyncio.get_running_loop().call_later(0.05, upstream.go.set)
    recording = store.load(key("POST", b"{}"))
    assert recording is not None
    assert recording.content.count(b"data:") == 2


async def test_an_answer_that_never_ends_is_not_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording_transport, "RECORD_DRAIN_SECONDS", 0.05)
    store = RecordingStore(tmp_path)
    async with client("record", store, Upstream()) as c, c.stream("POST", URL, content=b"{}") as response:
        assert await anext(response.aiter_bytes()) == EVENTS[0]
    assert store.load(key("POST", b"{}")) is None  # half an answer would replay as a broken one


async def test_a_get_event_stream_is_passed_on_and_never_recorded(tmp_path: Path) -> None:
    store, upstream = RecordingStore(tmp_path), Upstream()
    upstream.go.set()
    async with client("record", store, upstream) as c:
        assert (await c.get(URL)).content == b"".join(EVENTS)
    assert list(tmp_path.rglob("*.json")) == []


async def test_replay_declines_the_standalone_stream_and_misses_any_other_get(tmp_path: Path) -> None:
    async with client("replay", RecordingStore(tmp_path), None) as c:
        declined = await c.get(URL, headers={"mcp-session-id": "s1", "accept": "text/event-stream"})
        assert declined.status_code == 405
        with pytest.raises(RecordingMissing, match="No recording for GET /sse"):
            await c.get("http://mcp.test/sse", headers={"accept": "text/event-stream"})

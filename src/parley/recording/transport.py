"""Record and replay at the one outbound seam: the httpx2 transport.

Every outbound client Parley builds (inference, embeddings, web search, MCP)
gets its transport wrapped in ``RecordingTransport``, so tests and benchmarks
replay real provider traffic without monkey-patching any library. Modes:

- ``live``: pass straight through. This is production, so it costs one extra
  method call and nothing else: no body reading, no hashing, no disk.
- ``record``: forward, buffer the whole response, save it, return a copy. An
  event stream (``text/event-stream``: a chat stream, an MCP answer) is passed
  on chunk by chunk instead and saved when it ends (``_RecordedStream``).
- ``replay``: answer from the store only; a miss raises ``RecordingMissing``
  showing the normalized request, so the failing call is obvious.
- ``record-if-missing``: replay when a recording exists, else record.

A GET answered with an event stream is not an answer but a channel the server
sends on when it likes (MCP's standalone stream, the SSE transport's stream):
it is passed on and never recorded. Replay declines MCP's standalone stream
(a GET carrying ``mcp-session-id``) with 405, as the MCP spec lets a server
that does not offer one; any other GET still misses loudly.

Store I/O is synchronous: recordings are small and these modes never run in
production.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal, get_args

import httpx2
import orjson

from parley.errors import RecordingMissing
from parley.recording.normalize import normalize_request, request_key
from parley.recording.store import Recording, RecordingStore

__all__ = ["RecordingMode", "RecordingTransport"]

RecordingMode = Literal["live", "record", "replay", "record-if-missing"]

_MAX_BODY_CHARS = 4000
# The stored body is already decoded, so headers that describe the wire form must go.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
# Other extensions (e.g. ``network_stream``) belong to the connection that was just closed.
_KEPT_EXTENSIONS = frozenset({"http_version", "reason_phrase"})

RECORD_DRAIN_SECONDS = 2.0
"""How long an event stream closed before its end is still read, so that its recording is whole."""


class RecordingTransport(httpx2.AsyncBaseTransport):
    """An ``httpx2`` transport that records to, or replays from, a ``RecordingStore``."""

    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport | None,
        mode: RecordingMode,
        store: RecordingStore | None,
    ) -> None:
        if mode not in get_args(RecordingMode):
            raise ValueError(f"Unknown recording mode {mode!r}; expected one of {get_args(RecordingMode)}")
        if inner is None and mode != "replay":
            raise ValueError(f"Recording mode {mode!r} needs an inner transport to reach the upstream")
        if store is None and mode != "live":
            raise ValueError(f"Recording mode {mode!r} needs a RecordingStore")
        self._inner = inner
        self._mode = mode
        self._store = store

    @property
    def mode(self) -> RecordingMode:
        return self._mode

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._mode == "live":
            return await self._upstream().handle_async_request(request)
        store = self._store
        assert store is not None  # checked in __init__
        normalized = normalize_request(request.method, request.url, await request.aread())
        key = request_key(normalized)
        if self._mode != "record":
            recording = store.load(key)
            if recording is not None:
                return _replayed(recording, request)
            if self._mode == "replay":
                if _standalone_stream(request):
                    return httpx2.Response(405, request=request)
                raise RecordingMissing(_missing_message(normalized, key, store))
        return await self._record(request, normalized, store)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()

    def _upstream(self) -> httpx2.AsyncBaseTransport:
        assert self._inner is not None  # checked in __init__: only replay has no inner
        return self._inner

    async def _record(
        self, request: httpx2.Request, normalized: dict[str, Any], store: RecordingStore
    ) -> httpx2.Response:
        response = await self._upstream().handle_async_request(request)
        streamed = _is_event_stream(response)
        if streamed and request.method == "GET":
            return response
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
        extensions = {k: v for k, v in response.extensions.items() if k in _KEPT_EXTENSIONS}

        def save(content: bytes) -> None:
            store.save(Recording(normalized, response.status_code, dict(headers), content))

        if streamed:
            stream = _RecordedStream(response, save)
            return httpx2.Response(
                response.status_code, headers=headers, stream=stream, request=request, extensions=extensions
            )
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        save(content)
        return httpx2.Response(
            response.status_code, headers=headers, content=content, request=request, extensions=extensions
        )


class _RecordedStream(httpx2.AsyncByteStream):
    """An event stream passed on chunk by chunk and saved, decoded, when it ends.

    A reader may close it just before its end (the MCP SDK closes an answer once it holds the
    JSON-RPC response): the rest is then read for a moment (``RECORD_DRAIN_SECONDS``) so that the
    recording is whole. One that still does not end is not saved: a recording is always a whole
    answer, never the part a reader happened to want.
    """

    def __init__(self, response: httpx2.Response, save: Callable[[bytes], None]) -> None:
        self._response = response
        self._save = save
        self._chunks: list[bytes] = []
        self._reader: AsyncIterator[bytes] | None = None
        self._saved = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._reader = self._response.aiter_bytes()
        async for chunk in self._reader:
            self._chunks.append(chunk)
            yield chunk
        self._end()

    def _end(self) -> None:
        if not self._saved:
            self._saved = True
            self._save(b"".join(self._chunks))

    async def aclose(self) -> None:
        try:
            if not self._saved:
                reader = self._reader or self._response.aiter_bytes()
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(RECORD_DRAIN_SECONDS):
                        async for chunk in reader:
                            self._chunks.append(chunk)
                        self._end()
        finally:
            await self._response.aclose()


def _is_event_stream(response: httpx2.Response) -> bool:
    media_type = response.headers.get("content-type", "").split(";", 1)[0]
    return media_type.strip().lower() == "text/event-stream"


def _standalone_stream(request: httpx2.Request) -> bool:
    """MCP's standalone GET stream of a streamable HTTP session."""
    return request.method == "GET" and "mcp-session-id" in request.headers


def _replayed(recording: Recording, request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        recording.status, headers=recording.headers, content=recording.content, request=request
    )


def _missing_message(normalized: dict[str, Any], key: str, store: RecordingStore) -> str:
    body = orjson.dumps(normalized["body"], option=orjson.OPT_INDENT_2).decode()
    if len(body) > _MAX_BODY_CHARS:
        body = f"{body[:_MAX_BODY_CHARS]}\n… ({len(body) - _MAX_BODY_CHARS} more characters)"
    return (
        f"No recording for {normalized['method']} {normalized['path']}\n"
        f"key: {key}\n"
        f"expected file: {store.path_for(key)} (recordings directory: {store.directory})\n"
        f"normalized request body:\n{body}\n"
        "To record it, run once with PARLEY_RECORDING_MODE=record-if-missing against a live provider."
    )

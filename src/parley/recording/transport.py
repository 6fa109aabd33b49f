"""Record and replay at the one outbound seam: the httpx2 transport.

Every outbound client Parley builds (inference, embeddings, web search, MCP)
gets its transport wrapped in ``RecordingTransport``, so tests and benchmarks
replay real provider traffic without monkey-patching any library. Modes:

- ``live``: pass straight through. This is production, so it costs one extra
  method call and nothing else: no body reading, no hashing, no disk.
- ``record``: forward, buffer the whole response, save it, return a copy.
- ``replay``: answer from the store only; a miss raises ``RecordingMissing``
  showing the normalized request, so the failing call is obvious.
- ``record-if-missing``: replay when a recording exists, else record.

Store I/O is synchronous: recordings are small and these modes never run in
production.
"""

from __future__ import annotations

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
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
        store.save(Recording(normalized, response.status_code, dict(headers), content))
        return httpx2.Response(
            response.status_code,
            headers=headers,
            content=content,
            request=request,
            extensions={k: v for k, v in response.extensions.items() if k in _KEPT_EXTENSIONS},
        )


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

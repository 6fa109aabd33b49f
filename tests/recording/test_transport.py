"""RecordingTransport end to end: an AsyncClient over a MockTransport "upstream"."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from parley.errors import RecordingMissing
from parley.recording import RecordingMode, RecordingStore, RecordingTransport

BASE = "http://upstream.test/v1"
SECRET = "sk-very-secret-token"
SSE_BODY = (
    b'data: {"id":"c1","choices":[{"delta":{"content":"Hel"}}]}\n\n'
    b'data: {"id":"c1","choices":[{"delta":{"content":"lo"}}]}\n\n'
    b"data: [DONE]\n\n"
)
JSON_BODY = {"id": "c1", "choices": [{"message": {"role": "assistant", "content": "Hi"}}]}


class Upstream:
    """A fake provider that counts calls: JSON normally, SSE when ``stream`` is set."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        if orjson.loads(request.content).get("stream"):
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=SSE_BODY)
        return httpx2.Response(200, json=JSON_BODY, headers={"x-request-id": "abc"})


def client(
    mode: RecordingMode,
    store: RecordingStore | None,
    handler: Callable[[httpx2.Request], httpx2.Response] | None,
    base_url: str = BASE,
) -> httpx2.AsyncClient:
    inner = None if handler is None else httpx2.MockTransport(handler)
    transport = RecordingTransport(inner, mode, store)
    return httpx2.AsyncClient(transport=transport, base_url=base_url, headers={"authorization": SECRET})


async def post(c: httpx2.AsyncClient, body: dict[str, Any]) -> httpx2.Response:
    async with c:
        return await c.post("/chat/completions", json=body)


def files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


@pytest.mark.parametrize("stream", [False, True])
async def test_record_then_replay_gives_identical_body(tmp_path: Path, stream: bool) -> None:
    store = RecordingStore(tmp_path)
    upstream = Upstream()
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    recorded = await post(client("record", store, upstream), body)
    replayed = await post(client("replay", store, None), body)
    assert upstream.calls == 1
    assert replayed.status_code == recorded.status_code == 200
    assert replayed.headers["content-type"] == recorded.headers["content-type"]
    if stream:
        assert recorded.content == replayed.content == SSE_BODY
    else:
        assert recorded.json() == replayed.json() == JSON_BODY
        assert recorded.headers["x-request-id"] == "abc"  # record mode returns the real headers


async def test_recording_file_is_readable_json(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    await post(client("record", store, Upstream()), {"model": "m", "stream": True})
    [path] = files(tmp_path)
    assert path.parent.name == path.stem[:2]
    text = path.read_text()
    assert text.endswith("}\n")
    assert '\n  "request"' in text  # indented
    document = orjson.loads(text)
    assert document["request"] == {
        "method": "POST",
        "path": "/v1/chat/completions",
        "body": {"model": "m", "stream": True},
    }
    assert document["response"]["headers"] == {"content-type": "text/event-stream"}
    assert document["response"]["sse"][:2] == [
        'data: {"id":"c1","choices":[{"delta":{"content":"Hel"}}]}',
        "",
    ]


async def test_replay_miss_names_the_request(tmp_path: Path) -> None:
    with pytest.raises(RecordingMissing) as info:
        await post(client("replay", RecordingStore(tmp_path), None), {"model": "m", "x": "y" * 10_000})
    message = info.value.message
    assert "POST /v1/chat/completions" in message
    assert '"model": "m"' in message
    assert str(tmp_path) in message
    assert "PARLEY_RECORDING_MODE=record-if-missing" in message
    assert len(message) < 5000


async def test_generated_ids_do_not_change_the_key(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    first, second = "fc_" + "a1" * 24, "fc_" + "b2" * 24
    messages = [{"role": "tool", "tool_call_id": first, "content": "42"}]
    await post(client("record", store, Upstream()), {"model": "m", "messages": messages})
    messages[0]["tool_call_id"] = second
    replayed = await post(client("replay", store, None), {"model": "m", "messages": messages})
    assert replayed.json() == JSON_BODY
    assert first not in files(tmp_path)[0].read_text()


async def test_replay_ignores_the_host(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    await post(client("record", store, Upstream()), {"model": "m"})
    other = client("replay", store, None, base_url="https://elsewhere.example:9000/v1")
    assert (await post(other, {"model": "m"})).json() == JSON_BODY


async def test_live_mode_never_touches_the_store(tmp_path: Path) -> None:
    directory = tmp_path / "recordings"
    upstream = Upstream()
    response = await post(client("live", RecordingStore(directory), upstream), {"model": "m"})
    assert response.json() == JSON_BODY
    assert upstream.calls == 1
    assert not directory.exists()


async def test_live_mode_returns_the_inner_response_untouched() -> None:
    sent = httpx2.Response(200, content=b"raw")
    transport = RecordingTransport(httpx2.MockTransport(lambda request: sent), "live", None)
    assert await transport.handle_async_request(httpx2.Request("POST", BASE, content=b"{}")) is sent


async def test_authorization_is_never_written(tmp_path: Path) -> None:
    def echo_headers(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"ok": True}, headers={"authorization": SECRET, "x-api-key": SECRET})

    await post(client("record", RecordingStore(tmp_path), echo_headers), {"model": "m"})
    for path in files(tmp_path):
        assert SECRET not in path.read_text()


async def test_record_if_missing_records_once_then_replays(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    upstream = Upstream()
    for _ in range(3):
        response = await post(client("record-if-missing", store, upstream), {"model": "m"})
        assert response.json() == JSON_BODY
    assert upstream.calls == 1
    assert len(files(tmp_path)) == 1


async def test_record_decodes_compressed_bodies(tmp_path: Path) -> None:
    def gzipped(request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "application/json", "content-encoding": "gzip"}
        return httpx2.Response(200, headers=headers, content=gzip.compress(orjson.dumps(JSON_BODY)))

    store = RecordingStore(tmp_path)
    assert (await post(client("record", store, gzipped), {"model": "m"})).json() == JSON_BODY
    assert (await post(client("replay", store, None), {"model": "m"})).json() == JSON_BODY


async def test_error_statuses_and_text_bodies_are_recorded(tmp_path: Path) -> None:
    def failing(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(503, text="overloaded")

    store = RecordingStore(tmp_path)
    await post(client("record", store, failing), {"model": "m"})
    replayed = await post(client("replay", store, None), {"model": "m"})
    assert (replayed.status_code, replayed.text) == (503, "overloaded")


@pytest.mark.parametrize(
    ("inner", "mode", "with_store"),
    [
        (False, "live", False),
        (False, "record", True),
        (False, "record-if-missing", True),
        (True, "replay", False),
        (True, "record", False),
        (True, "bogus", True),
    ],
)
def test_invalid_configurations_are_rejected(
    tmp_path: Path, inner: bool, mode: Any, with_store: bool
) -> None:
    transport = httpx2.MockTransport(Upstream()) if inner else None
    store = RecordingStore(tmp_path) if with_store else None
    with pytest.raises(ValueError, match=r"recording mode|needs"):
        RecordingTransport(transport, mode, store)


async def test_aclose_closes_the_inner_transport() -> None:
    closed: list[bool] = []

    class Inner(httpx2.AsyncBaseTransport):
        async def aclose(self) -> None:
            closed.append(True)

    await RecordingTransport(Inner(), "live", None).aclose()
    await RecordingTransport(None, "replay", RecordingStore(Path("unused"))).aclose()
    assert closed == [True]


@pytest.mark.parametrize(
    ("status", "headers", "content"),
    [(204, {}, b""), (200, {"content-type": "application/octet-stream"}, b"\xff\x00\xfe")],
)
async def test_empty_and_binary_bodies_round_trip(
    tmp_path: Path, status: int, headers: dict[str, str], content: bytes
) -> None:
    store = RecordingStore(tmp_path)
    upstream = lambda request: httpx2.Response(status, headers=headers, content=content)  # noqa: E731
    await post(client("record", store, upstream), {"model": "m"})
    replayed = await post(client("replay", store, None), {"model": "m"})
    assert (replayed.status_code, replayed.content) == (status, content)

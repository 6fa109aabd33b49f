"""WebSocket mode end to end: the openai SDK's own WebSocket client (``client.responses.connect()``)
against Parley under uvicorn on loopback, with the settings ``parley serve`` uses; then heartbeats
answered mid-turn, and open sockets closed cleanly when the server shuts down."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.responses.responses_server_event import ResponsesServerEvent, ResponseWsError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.sync.connection import Connection

from parley.app import create_app
from parley.config import ProviderConfig, Settings
from parley.testing.fake_upstream import Reply
from tests.e2e.conftest import MODEL, ScriptedUpstream, serve

TERMINAL = {"response.completed", "response.failed", "response.incomplete", "error"}


@pytest.fixture(scope="module")
def ws_parley_url(
    scripted_upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("parley-ws")
    settings = Settings(data_dir=data_dir, providers=(ProviderConfig("default", scripted_upstream.base_url),))
    app = create_app(settings)
    with serve(app, name="parley-ws", lifespan="on", probe="/health", websockets=True) as port:
        yield f"http://127.0.0.1:{port}/v1"


async def async_turn(connection: Any, **params: Any) -> list[ResponsesServerEvent]:
    await connection.response.create(model=MODEL, **params)
    events: list[ResponsesServerEvent] = []
    async for event in connection:
        events.append(event)
        if event.type in TERMINAL:
            return events
    raise AssertionError(f"the socket closed mid-turn after {[e.type for e in events]}")


async def test_the_async_sdk_streams_continues_and_reads_errors(
    ws_parley_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="OK, cobalt."), Reply(text="cobalt"))
    async with (
        openai.AsyncOpenAI(base_url=ws_parley_url, api_key="test", max_retries=0) as client,
        client.responses.connect() as connection,
    ):
        first = await async_turn(connection, input="Remember the code word: cobalt.", store=False)
        first_id = first[-1].response.id  # type: ignore[union-attr]
        second = await async_turn(connection, input="Which word?", store=False, previous_response_id=first_id)
        missing = await async_turn(connection, input="?", store=False, previous_response_id="resp_missing")
    assert [e.sequence_number for e in first] == list(range(len(first)))
    assert first[0].type == "response.created"
    assert second[-1].type == "response.completed"
    assert second[-1].response.output_text == "cobalt"
    assert [m["content"] for m in upstream.requests[-1]["messages"]] == [
        "Remember the code word: cobalt.",
        "OK, cobalt.",
        "Which word?",
    ]
    (error,) = missing
    assert isinstance(error, ResponseWsError)
    assert error.status == 400
    assert error.error.code == "previous_response_not_found"
    assert error.error.param == "previous_response_id"


# The SDK's sync client opens its socket the way websockets 17.1 deprecates (not as a context manager).
@pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")
def test_the_sync_sdk_runs_two_responses_on_one_socket(
    ws_parley_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="first"), Reply(text="second"))
    texts = []
    with (
        openai.OpenAI(base_url=ws_parley_url, api_key="test", max_retries=0) as client,
        client.responses.connect() as connection,
    ):
        for word in ("one", "two"):
            connection.response.create(model=MODEL, input=word, store=False)
            for event in connection:
                if event.type == "response.completed":
                    texts.append(event.response.output_text)
                    break
    assert texts == ["first", "second"]


def socket_to(port: int) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{port}/v1/responses", open_timeout=5, compression=None)


def start_slow_turn(ws: Connection) -> dict[str, Any]:
    ws.send(json.dumps({"type": "response.create", "model": MODEL, "input": "Talk slowly."}))
    created: dict[str, Any] = json.loads(ws.recv(timeout=5))
    assert created["type"] == "response.created"
    return created


def test_pings_are_answered_while_a_turn_streams(ws_parley_url: str, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text="word " * 300, token_delay=0.01))
    port = int(ws_parley_url.rsplit(":", 1)[1].split("/")[0])
    with socket_to(port) as ws:
        start_slow_turn(ws)
        assert ws.ping().wait(timeout=1.0), "no pong while the turn streamed"
        events = [json.loads(ws.recv(timeout=10))]
        while events[-1]["type"] not in TERMINAL:
            events.append(json.loads(ws.recv(timeout=10)))
    assert events[-1]["type"] == "response.completed"


def close_code(ws: Connection) -> int | None:
    """Read what is left until the server closes the socket; the code it closed with."""
    try:
        while True:
            ws.recv(timeout=5)
    except ConnectionClosed as closed:
        return None if closed.rcvd is None else closed.rcvd.code


def test_shutdown_closes_every_socket_at_once(upstream: ScriptedUpstream, tmp_path: Path) -> None:
    upstream.script(Reply(text="word " * 1000, token_delay=0.01))
    settings = Settings(data_dir=tmp_path, providers=(ProviderConfig("default", upstream.base_url),))
    app = create_app(settings)
    with contextlib.ExitStack() as sockets:
        with serve(app, name="parley-ws-shutdown", lifespan="on", probe="/health", websockets=True) as port:
            idle, busy = sockets.enter_context(socket_to(port)), sockets.enter_context(socket_to(port))
            start_slow_turn(busy)
            stopping = time.monotonic()
        stopped_in = time.monotonic() - stopping  # serve() asserts the server's thread has ended
        assert stopped_in < 3, f"shutdown took {stopped_in:.1f} s"
        assert close_code(idle) == close_code(busy) == 1012  # service restart: come back later

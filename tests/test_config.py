"""Settings: defaults < config file < environment < flags, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.config import SETTINGS, ConfigError, ProviderConfig, load_settings

README = Path(__file__).parent.parent / "README.md"


def test_defaults_need_nothing() -> None:
    settings = load_settings({}, environ={})
    assert settings.port == 8321
    assert settings.providers == ()
    assert settings.recording_mode == "live"


def test_flags_beat_environment(tmp_path: Path) -> None:
    env = {"PARLEY_PORT": "9000", "PARLEY_PROVIDER_URL": "http://env/v1", "PARLEY_DATA_DIR": str(tmp_path)}
    settings = load_settings({"port": "9001"}, environ=env)
    assert settings.port == 9001
    assert settings.data_dir == tmp_path
    assert settings.providers == (ProviderConfig("default", "http://env/v1"),)


def test_config_file_declares_routed_providers(tmp_path: Path) -> None:
    config = tmp_path / "parley.toml"
    config.write_text(
        'port = 7000\ndata_dir = "state"\n'
        '[[providers]]\nname = "openai"\nurl = "https://api.openai.com/v1"\napi_key_env = "MY_KEY"\n'
        'models = ["gpt-*"]\n'
        '[[providers]]\nname = "local"\nurl = "http://localhost:8000/v1"\n'
    )
    settings = load_settings({"config": str(config)}, environ={"MY_KEY": "sk-test"})
    assert settings.port == 7000
    assert settings.data_dir == tmp_path / "state"
    assert [p.name for p in settings.providers] == ["openai", "local"]
    assert settings.providers[0].api_key == "sk-test"
    assert settings.providers[0].models == ("gpt-*",)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"port": "eighty"}, "port must be an integer"),
        ({"recording_mode": "sometimes"}, "recording_mode must be one of"),
        ({"recording_mode": "replay"}, "needs recordings_dir"),
        ({"config": "/nonexistent/parley.toml"}, "Cannot read config file"),
        ({"background_lease": "0"}, "background_lease must be more than 0 seconds"),
        ({"background_lease": "soon"}, "background_lease must be a number of seconds"),
    ],
)
def test_bad_settings_are_explained(flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(flags, environ={})


def test_background_lease_is_seconds_and_may_be_a_fraction() -> None:
    assert load_settings({}, environ={}).background_lease == 30.0
    assert load_settings({}, environ={"PARLEY_BACKGROUND_LEASE": "2.5"}).background_lease == 2.5


def test_provider_without_url_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[providers]]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"providers\[0\] needs at least a 'url'"):
        load_settings({"config": str(config)}, environ={})


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    for setting in SETTINGS:
        assert setting.env in readme, f"{setting.env} is not documented in README.md"


def test_every_provider_key_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    for name in ProviderConfig.__dataclass_fields__:
        assert f"`{name}`" in readme, f"provider key {name} is not documented in README.md"


def test_every_setting_is_a_key_of_the_config_file_and_the_environment_still_wins(tmp_path: Path) -> None:
    config = tmp_path / "parley.toml"
    config.write_text(
        'host = "0.0.0.0"\ndata_dir = "state"\nallow_private_urls = true\nmax_tool_calls = 9\n'
        'local_model = "/models/tiny.gguf"\nweb_search_provider = "searxng"\n'
        'searxng_url = "http://search.local"\n'
    )
    settings = load_settings({"config": str(config)}, environ={"PARLEY_HOST": "127.0.0.2"})
    assert settings.host == "127.0.0.2"
    assert settings.data_dir == tmp_path / "state"
    assert settings.allow_private_urls is True
    assert settings.max_tool_calls == 9
    assert settings.local_model == "/models/tiny.gguf"
    assert (settings.web_search_provider, settings.searxng_url) == ("searxng", "http://search.local")


def test_a_config_file_key_that_is_no_setting_is_named(tmp_path: Path) -> None:
    config = tmp_path / "parley.toml"
    config.write_text('prot = 8000\n[[providers]]\nurl = "http://x/v1"\n')
    with pytest.raises(ConfigError, match="unknown setting\\(s\\) prot"):
        load_settings({"config": str(config)}, environ={})

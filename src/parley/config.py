"""One typed, frozen configuration, read once at start-up and passed down.

Sources, lowest precedence first: built-in defaults, a TOML config file,
``PARLEY_*`` environment variables, command-line flags. Every setting is
declared once in ``SETTINGS`` (name, env var, help) which feeds the CLI and the
docs test, as datasette does.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

RecordingMode = Literal["live", "record", "replay", "record-if-missing"]
WebSearchProvider = Literal["searxng", "tavily", "brave"]


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "parley"


@dataclass(frozen=True)
class ProviderConfig:
    """One OpenAI-compatible inference server and the model names it serves."""

    name: str
    url: str
    api_key: str | None = None
    models: tuple[str, ...] = ()
    """Glob patterns (``gpt-*``); empty means: every model no other provider claims."""
    timeout: float = 600.0
    native_custom_tools: bool = False
    reasoning_in_history: bool = True
    think_tags: bool = True
    """Read a ``<think>`` block that opens the content as reasoning (R1/Qwen3 served without a parser)."""
    """Send earlier turns' reasoning back as ``reasoning_content`` (DeepSeek's API refuses it: set false)."""
    """Send custom (freeform) tools as chat ``custom`` tools; otherwise as one-string-parameter functions."""


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "PARLEY_HOST", "Interface to listen on."),
    Setting("port", "PARLEY_PORT", "TCP port to listen on."),
    Setting("data_dir", "PARLEY_DATA_DIR", "Directory for the SQLite database and other state."),
    Setting(
        "provider_url",
        "PARLEY_PROVIDER_URL",
        "Base URL of an OpenAI-compatible chat-completions server, e.g. http://localhost:8000/v1; "
        "serves every model no configured provider claims.",
    ),
    Setting(
        "provider_api_key", "PARLEY_PROVIDER_API_KEY", "API key sent to --provider-url as a bearer token."
    ),
    Setting("config", "PARLEY_CONFIG", "TOML file declaring several providers and routing models to them."),
    Setting(
        "recording_mode",
        "PARLEY_RECORDING_MODE",
        "Outbound calls: live (default), record, replay or record-if-missing.",
    ),
    Setting("recordings_dir", "PARLEY_RECORDINGS_DIR", "Where recordings are written and replayed from."),
    Setting("log_level", "PARLEY_LOG_LEVEL", "Log level: debug, info, warning or error."),
    Setting(
        "reasoning_key",
        "PARLEY_REASONING_KEY",
        "Base64 of 32 random bytes that seals reasoning handed to stateless clients "
        "(encrypted_content); generated once into the data dir when unset. Share it across replicas.",
    ),
    Setting(
        "max_file_bytes",
        "PARLEY_MAX_FILE_BYTES",
        "Largest file /v1/files accepts, in bytes (default 536870912, 512 MB); larger uploads answer 413.",
    ),
    Setting(
        "embedding_url",
        "PARLEY_EMBEDDING_URL",
        "Base URL of an OpenAI-compatible /embeddings server for vector stores; unset: the built-in "
        "local embedder.",
    ),
    Setting(
        "embedding_model",
        "PARLEY_EMBEDDING_MODEL",
        "Embedding model of new vector stores: a model of --embedding-url, or a local embedder name "
        "(default minilm).",
    ),
    Setting(
        "embedding_api_key", "PARLEY_EMBEDDING_API_KEY", "API key sent to --embedding-url as a bearer token."
    ),
    Setting(
        "max_background",
        "PARLEY_MAX_BACKGROUND",
        "Background responses this server runs at once (default 32); more wait queued.",
    ),
    Setting(
        "max_background_queue",
        "PARLEY_MAX_BACKGROUND_QUEUE",
        "Queued background responses past which new ones are refused with 429 (default 10000).",
    ),
    Setting(
        "allow_private_urls",
        "PARLEY_ALLOW_PRIVATE_URLS",
        "1: hosted tools (MCP servers) may reach private, loopback and link-local addresses (default 0).",
    ),
    Setting(
        "web_search_provider",
        "PARLEY_WEB_SEARCH_PROVIDER",
        "Provider the web_search tool asks: searxng, tavily or brave; unset: each search is a tool error.",
    ),
    Setting("searxng_url", "PARLEY_SEARXNG_URL", "Base URL of a SearXNG server (its JSON format enabled)."),
    Setting("tavily_api_key", "TAVILY_API_KEY", "API key of Tavily, for web_search_provider tavily."),
    Setting("brave_api_key", "BRAVE_API_KEY", "API key of Brave Search, for web_search_provider brave."),
)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8321
    data_dir: Path = field(default_factory=default_data_dir)
    providers: tuple[ProviderConfig, ...] = ()
    recording_mode: RecordingMode = "live"
    recordings_dir: Path | None = None
    log_level: str = "info"
    reasoning_key: str | None = None
    """Base64 of 32 bytes sealing reasoning for stateless clients; generated into the data dir if unset."""
    max_file_bytes: int = 512 * 1024 * 1024
    embedding_url: str | None = None
    """An OpenAI-compatible embeddings server; None means the local embedder."""
    embedding_model: str | None = None
    """The remote model, or the local embedder's name; None means the local default."""
    embedding_api_key: str | None = None
    max_background: int = 32
    """Background responses run at once by this process; more wait queued."""
    max_background_queue: int = 10_000
    """Queued background responses past which a new one is refused (429)."""
    allow_private_urls: bool = False
    """Outbound tool URLs (MCP) may resolve to private, loopback or link-local addresses."""
    web_search_provider: WebSearchProvider | None = None
    """The web search provider hosted web_search calls; None: none configured."""
    searxng_url: str | None = None
    tavily_api_key: str | None = None
    brave_api_key: str | None = None

    @property
    def database_path(self) -> Path:
        return self.data_dir / "parley.db"


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""


def load_settings(flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> Settings:
    """Merge file < environment < flags into one Settings; ``flags`` holds only what was given."""
    values: dict[str, Any] = {s.name: environ[s.env] for s in SETTINGS if environ.get(s.env)}
    values.update({k: v for k, v in flags.items() if v is not None})
    settings = Settings()
    if values.get("config"):
        settings = _from_file(Path(values["config"]), settings, environ)
    updates: dict[str, Any] = {}
    if "host" in values:
        updates["host"] = str(values["host"])
    if "port" in values:
        updates["port"] = _int(values["port"], "port")
    if "data_dir" in values:
        updates["data_dir"] = Path(values["data_dir"]).expanduser()
    if "reasoning_key" in values:
        updates["reasoning_key"] = str(values["reasoning_key"])
    if "log_level" in values:
        updates["log_level"] = str(values["log_level"]).lower()
    if "recording_mode" in values:
        updates["recording_mode"] = _mode(values["recording_mode"])
    if "recordings_dir" in values:
        updates["recordings_dir"] = Path(values["recordings_dir"])
    updates.update(_retrieval(values))
    updates.update(_web_search(values))
    if "allow_private_urls" in values:
        updates["allow_private_urls"] = str(values["allow_private_urls"]).lower() in ("1", "true", "yes")
    for key in ("max_background", "max_background_queue"):
        if key in values:
            updates[key] = _int(values[key], key)
    if values.get("provider_url"):
        default = ProviderConfig("default", str(values["provider_url"]), values.get("provider_api_key"))
        others = tuple(p for p in settings.providers if p.name != "default")
        updates["providers"] = (*others, default)
    settings = replace(settings, **updates)
    if settings.recording_mode != "live" and settings.recordings_dir is None:
        raise ConfigError("recording_mode other than 'live' needs recordings_dir (PARLEY_RECORDINGS_DIR).")
    return settings


def _retrieval(values: Mapping[str, Any]) -> dict[str, Any]:
    """Upload limit and embedder: the settings the Files and Vector Stores APIs read."""
    updates: dict[str, Any] = {}
    if "max_file_bytes" in values:
        updates["max_file_bytes"] = _int(values["max_file_bytes"], "max_file_bytes")
    for key in ("embedding_url", "embedding_model", "embedding_api_key"):
        if values.get(key):
            updates[key] = str(values[key])
    if updates.get("embedding_url") and not updates.get("embedding_model"):
        raise ConfigError("embedding_url needs embedding_model (PARLEY_EMBEDDING_MODEL): the model to ask.")
    return updates


def _web_search(values: Mapping[str, Any]) -> dict[str, Any]:
    """The web search provider and what it needs: SearXNG a URL, Tavily and Brave a key."""
    keys = ("searxng_url", "tavily_api_key", "brave_api_key")
    updates: dict[str, Any] = {key: str(values[key]) for key in keys if values.get(key)}
    name = str(values.get("web_search_provider") or "").lower()
    if not name:
        return updates
    needs = {"searxng": "searxng_url", "tavily": "tavily_api_key", "brave": "brave_api_key"}
    if name not in needs:
        names = ", ".join(get_args(WebSearchProvider))
        raise ConfigError(f"web_search_provider must be one of {names}, not {name!r}.")
    if needs[name] not in updates:
        env = next(s.env for s in SETTINGS if s.name == needs[name])
        raise ConfigError(f"web_search_provider {name} needs {needs[name]} ({env}).")
    return updates | {"web_search_provider": name}


def _from_file(path: Path, base: Settings, environ: Mapping[str, str]) -> Settings:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc}") from exc
    updates: dict[str, Any] = {}
    for key in ("host", "log_level", "reasoning_key"):
        if key in raw:
            updates[key] = str(raw[key])
    if "port" in raw:
        updates["port"] = _int(raw["port"], "port")
    if "data_dir" in raw:
        updates["data_dir"] = (path.parent / Path(raw["data_dir"]).expanduser()).resolve()
    updates["providers"] = tuple(
        _provider(entry, i, environ) for i, entry in enumerate(raw.get("providers", []))
    )
    names = [p.name for p in updates["providers"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: provider names must be unique, got {names}.")
    return replace(base, **updates)


def _provider(entry: Any, index: int, environ: Mapping[str, str]) -> ProviderConfig:
    where = f"providers[{index}]"
    if not isinstance(entry, dict) or not entry.get("url"):
        raise ConfigError(f"{where} needs at least a 'url'.")
    api_key = entry.get("api_key")
    if entry.get("api_key_env"):
        api_key = environ.get(str(entry["api_key_env"]))
        if api_key is None:
            raise ConfigError(f"{where}: environment variable {entry['api_key_env']} is not set.")
    models = entry.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise ConfigError(f"{where}.models must be a list of model names or glob patterns.")
    return ProviderConfig(
        name=str(entry.get("name", f"provider{index}")),
        url=str(entry["url"]),
        api_key=api_key,
        models=tuple(models),
        timeout=float(entry.get("timeout", 600.0)),
        native_custom_tools=bool(entry.get("native_custom_tools", False)),
        reasoning_in_history=bool(entry.get("reasoning_in_history", True)),
        think_tags=bool(entry.get("think_tags", True)),
    )


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer, got {value!r}.") from None


def _mode(value: Any) -> RecordingMode:
    if value not in get_args(RecordingMode):
        raise ConfigError(f"recording_mode must be one of {get_args(RecordingMode)}, got {value!r}.")
    return cast(RecordingMode, value)

"""Settings from their sources, lowest precedence first: built-in defaults, a TOML config file,
``PARLEY_*`` environment variables, command-line flags."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast, get_args
from urllib.parse import urlsplit

from parley.config.model import (
    ConfigError,
    ConfiguredKey,
    ProviderConfig,
    RecordingMode,
    Settings,
    UnknownParameters,
    WebSearchProvider,
)
from parley.config.table import SETTINGS
from parley.providers.profiles import SERVERS, check_capability


def load_settings(flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> Settings:
    """Merge file < environment < flags into one Settings; ``flags`` holds only what was given."""
    values: dict[str, Any] = {s.name: environ[s.env] for s in SETTINGS if environ.get(s.env)}
    values.update({k: v for k, v in flags.items() if v is not None})
    settings = Settings()
    if values.get("config"):
        path = Path(values["config"])
        raw = _read_toml(path)
        settings = _from_file(path, raw, settings, environ)
        values = {**_file_settings(path, raw), **values}  # the file's settings weigh least
    updates = {name: read(values[name], name) for name, read in _PLAIN.items() if name in values}
    updates.update(_retrieval(values))
    updates.update(_web_search(values))
    updates.update(_limits(values))
    if values.get("provider_url"):
        others = tuple(p for p in settings.providers if p.name != "default")
        updates["providers"] = (*others, _default_provider(values))
    settings = replace(settings, **updates)
    if settings.recording_mode != "live" and settings.recordings_dir is None:
        raise ConfigError("recording_mode other than 'live' needs recordings_dir (PARLEY_RECORDINGS_DIR).")
    return settings


def _switch(value: Any, name: str) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def _default_provider(values: Mapping[str, Any]) -> ProviderConfig:
    """The provider ``--provider-url`` names: it serves every model no configured provider claims."""
    default = ProviderConfig(
        "default",
        str(values["provider_url"]),
        values.get("provider_api_key"),
        server=_server(values.get("provider_server"), "provider_server"),
    )
    if values.get("provider_max_concurrency") is None:
        return default
    concurrency = _count_or_none(values["provider_max_concurrency"], "provider_max_concurrency")
    return replace(default, max_concurrency=concurrency)


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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc}") from exc


_FILE_TABLES = ("providers", "api_keys")
"""The config file's arrays of tables; every other top-level key is a setting."""


def _file_settings(path: Path, raw: dict[str, Any]) -> dict[str, Any]:
    """The file's top-level settings, read like their flags and environment variables; a relative
    ``data_dir`` is relative to the file. A key that is no setting is a mistake worth naming."""
    names = {setting.name for setting in SETTINGS} - {"config"}
    unknown = sorted(set(raw) - names - set(_FILE_TABLES))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; see the README's Settings.")
    values = {key: value for key, value in raw.items() if key in names}
    if "data_dir" in values:
        values["data_dir"] = str((path.parent / Path(values["data_dir"]).expanduser()).resolve())
    return values


def _from_file(path: Path, raw: dict[str, Any], base: Settings, environ: Mapping[str, str]) -> Settings:
    """The file's providers and API keys (its other settings go the way of flags: ``_file_settings``)."""
    providers = tuple(_provider(entry, i, environ) for i, entry in enumerate(raw.get("providers", [])))
    names = [p.name for p in providers]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: provider names must be unique, got {names}.")
    keys = tuple(_api_key(entry, i, environ) for i, entry in enumerate(raw.get("api_keys", [])))
    return replace(base, providers=providers, api_keys=keys)


def _api_key(entry: Any, index: int, environ: Mapping[str, str]) -> ConfiguredKey:
    """``{key = "..." | key_env = "VAR", owner = "...", admin = false}``."""
    where = f"api_keys[{index}]"
    if not isinstance(entry, dict) or not entry.get("owner"):
        raise ConfigError(f"{where} needs an 'owner' and a 'key' (or 'key_env').")
    key = _secret(entry, "key", where, environ)
    if not isinstance(key, str) or len(key) < 16:
        raise ConfigError(f"{where}: the key must be a string of at least 16 characters.")
    return ConfiguredKey(key, str(entry["owner"]), bool(entry.get("admin", False)))


def _secret(entry: dict[str, Any], name: str, where: str, environ: Mapping[str, str]) -> Any:
    """``entry[name]``, or the environment variable ``entry[name + "_env"]`` names (which must be set)."""
    variable = entry.get(f"{name}_env")
    if not variable:
        return entry.get(name)
    if (value := environ.get(str(variable))) is None:
        raise ConfigError(f"{where}: environment variable {variable} is not set.")
    return value


def _provider(entry: Any, index: int, environ: Mapping[str, str]) -> ProviderConfig:
    where = f"providers[{index}]"
    if not isinstance(entry, dict) or not entry.get("url"):
        raise ConfigError(f"{where} needs at least a 'url'.")
    api_key = _secret(entry, "api_key", where, environ)
    models, policy = entry.get("models", []), entry.get("unknown_parameters")
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise ConfigError(f"{where}.models must be a list of model names or glob patterns.")
    return ProviderConfig(
        name=str(entry.get("name", f"provider{index}")),
        url=str(entry["url"]),
        api_key=api_key,
        models=tuple(models),
        timeout=float(entry.get("timeout", 600.0)),
        server=_server(entry.get("server"), f"{where}.server"),
        capabilities=_capabilities(entry, where),
        unknown_parameters=(
            None if policy is None else _unknown_parameters(policy, f"{where}.unknown_parameters")
        ),
        extra_parameters=_names(entry.get("extra_parameters", []), f"{where}.extra_parameters"),
        summary_model=None if entry.get("summary_model") is None else str(entry["summary_model"]),
        max_concurrency=_count_or_none(entry.get("max_concurrency", 0), f"{where}.max_concurrency"),
    )


_PROVIDER_KEYS = frozenset(
    {"name", "url", "api_key", "api_key_env", "models", "timeout", "server", "unknown_parameters"}
    | {"extra_parameters", "summary_model", "max_concurrency"}
)


def _server(value: Any, where: str) -> str | None:
    """A row of the known servers' table; ``auto`` (or none): recognised at first contact."""
    if value is None or value == "auto":
        return None
    if value not in SERVERS and value != "generic":
        known = ", ".join(["auto", "generic", *SERVERS])
        raise ConfigError(f"{where} must be one of {known}, got {value!r}.")
    return str(value)


def _capabilities(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """The provider's capability settings; any other key that is not a provider setting is named."""
    capabilities = {}
    for key, value in entry.items():
        if key in _PROVIDER_KEYS:
            continue
        try:
            capabilities[key] = check_capability(key, value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return capabilities


def _limits(values: Mapping[str, Any]) -> dict[str, Any]:
    """Request and response limits; 0 turns the tool-call ceiling or a timeout off."""
    updates: dict[str, Any] = {}
    for key in ("max_request_bytes", "max_input_items"):
        if key in values:
            updates[key] = _int(values[key], key)
            if updates[key] < 1:
                raise ConfigError(f"{key} must be at least 1, got {values[key]!r}.")
    if "max_tool_calls" in values:
        updates["max_tool_calls"] = _count_or_none(values["max_tool_calls"], "max_tool_calls")
    for key in ("response_timeout", "tool_timeout", "stall_timeout"):
        if key in values:
            try:
                seconds = float(values[key])
            except (TypeError, ValueError):
                raise ConfigError(f"{key} must be a number of seconds, got {values[key]!r}.") from None
            if not seconds >= 0:
                raise ConfigError(f"{key} must be 0 (no limit) or more seconds, got {values[key]!r}.")
            updates[key] = seconds or None
    return updates


def _count_or_none(value: Any, name: str) -> int | None:
    """A count where 0 means no limit."""
    count = _int(value, name)
    if count < 0:
        raise ConfigError(f"{name} must be 0 (no limit) or more, got {value!r}.")
    return count or None


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer, got {value!r}.") from None


def _workers(value: Any, name: str) -> int:
    """A count of processes, or ``auto``: one per core."""
    if value == "auto":
        return os.cpu_count() or 1
    count = _int(value, name)
    if count < 1:
        raise ConfigError(f"{name} must be auto or at least 1, got {value!r}.")
    return count


def _positive_seconds(value: Any, name: str) -> float:
    """A duration that cannot be off: a lease of 0 s would expire as it is taken."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}.") from None
    if not seconds > 0:
        raise ConfigError(f"{name} must be more than 0 seconds, got {value!r}.")
    return seconds


def _database_url(value: Any, name: str) -> str:
    """PostgreSQL's URL (libpq's form, which asyncpg reads); anything else is named here, at start."""
    url = str(value)
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{name} must be a PostgreSQL URL (postgresql://user:pass@host/db), got {url!r}.")
    return url


def _files_url(value: Any, name: str) -> str:
    """An S3 bucket and optional key prefix; the endpoint and credentials come from AWS_* variables."""
    url = str(value)
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"{name} (PARLEY_FILES_URL) must be an S3 URL (s3://bucket or s3://bucket/prefix), got {url!r}."
        )
    return url


def _unknown_parameters(value: Any, where: str) -> UnknownParameters:
    if value not in get_args(UnknownParameters):
        raise ConfigError(f"{where} must be 'error' or 'ignore', got {value!r}.")
    return cast(UnknownParameters, value)


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(name, str) and name for name in value):
        raise ConfigError(f"{where} must be a list of parameter names.")
    return tuple(value)


def _mode(value: Any) -> RecordingMode:
    if value not in get_args(RecordingMode):
        raise ConfigError(f"recording_mode must be one of {get_args(RecordingMode)}, got {value!r}.")
    return cast(RecordingMode, value)


_PLAIN: dict[str, Callable[[Any, str], Any]] = {
    "host": lambda value, name: str(value),
    "port": _int,
    "data_dir": lambda value, name: Path(value).expanduser(),
    "database_url": _database_url,
    "files_url": _files_url,
    "reasoning_key": lambda value, name: str(value),
    "log_level": lambda value, name: str(value).lower(),
    "recording_mode": lambda value, name: _mode(value),
    "recordings_dir": lambda value, name: Path(value),
    "unknown_parameters": _unknown_parameters,
    "allow_private_urls": _switch,
    "allow_unauthenticated": _switch,
    "max_background": _int,
    "workers": _workers,
    "max_background_queue": _int,
    "background_lease": _positive_seconds,
    "summary_model": lambda value, name: str(value),
    "local_model": lambda value, name: str(value),
    "local_model_threads": lambda value, name: _count_or_none(value, name),
}
"""Settings read from one value each, by how they are read."""

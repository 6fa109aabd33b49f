"""The configuration's types: one frozen ``Settings``, the providers and keys it names."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RecordingMode = Literal["live", "record", "replay", "record-if-missing"]
WebSearchProvider = Literal["searxng", "tavily", "brave"]
UnknownParameters = Literal["error", "ignore"]


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
    unknown_parameters: UnknownParameters | None = None
    """A create request's top-level name OpenAI does not know, on this provider's route: ``error``
    (OpenAI's 400 ``unknown_parameter``) or ``ignore`` (logged once per name); unset: the deployment's."""
    extra_parameters: tuple[str, ...] = ()
    """Vendor extensions this provider takes (vLLM's ``guided_choice``, ``chat_template_kwargs``):
    sent by clients as extra top-level fields, passed on to its chat request."""
    timeout: float = 600.0
    server: str | None = None
    """The known server it runs (a row of ``providers.profiles.SERVERS``: ``vllm``, ``ollama``, ...);
    None: recognised at first contact from what the server says about itself."""
    capabilities: Mapping[str, Any] = field(default_factory=dict)
    """Capabilities set for this provider (``stream_usage = false``, ``response_format =
    "json_object"``, ...), which win over its server's row."""
    summary_model: str | None = None
    """Its model that writes reasoning summaries (``reasoning.summary``); unset: the deployment's
    ``summary_model``; empty: none for this provider."""
    max_concurrency: int | None = None
    """Calls to this provider at once; more wait in a queue, in order. None: no limit."""

    def summary_model_or(self, default: str | None) -> str | None:
        """The model that writes this provider's reasoning summaries, if any."""
        return (default if self.summary_model is None else self.summary_model) or None


@dataclass(frozen=True)
class ConfiguredKey:
    """An API key written in the config file (``[[api_keys]]``), and the owner it grants."""

    key: str
    owner: str
    admin: bool = False


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8321
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    """PostgreSQL's ``postgresql://...``; None: SQLite in the data dir."""
    files_url: str | None = None
    """Uploaded files' bytes in an S3-compatible bucket (``s3://bucket/prefix``); None: the data dir."""
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
    background_lease: float = 30.0
    """Seconds a claim on a background job lasts unless renewed: how long a dead server's running job
    waits before another settles it failed."""
    allow_private_urls: bool = False
    """Outbound tool URLs (MCP) may resolve to private, loopback or link-local addresses."""
    allow_unauthenticated: bool = False
    """Serve a non-loopback interface without API keys (otherwise ``parley serve`` refuses)."""
    api_keys: tuple[ConfiguredKey, ...] = ()
    """Keys from the config file; ``parley keys create`` adds others to the database."""
    web_search_provider: WebSearchProvider | None = None
    """The web search provider hosted web_search calls; None: none configured."""
    searxng_url: str | None = None
    tavily_api_key: str | None = None
    brave_api_key: str | None = None
    unknown_parameters: UnknownParameters = "error"
    """A create request's unknown top-level name: OpenAI's 400, or ignored; a provider may override it."""
    summary_model: str | None = None
    """Writes reasoning summaries for providers that name no ``summary_model``; None: no summaries."""
    max_request_bytes: int = 64 * 1024 * 1024
    """Largest JSON request body (uploads have ``max_file_bytes``); larger ones answer 413."""
    max_input_items: int = 10_000
    max_tool_calls: int | None = 256
    """Ceiling of hosted tool calls per response; None: only the request's own ``max_tool_calls``."""
    response_timeout: float | None = 3600.0
    """Seconds a response may run before it ends ``incomplete`` (reason ``timeout``); None: no limit."""
    tool_timeout: float | None = 300.0
    """Seconds one hosted tool call may run before it ends as a tool error; None: no limit of its own."""
    workers: int = 1
    """Worker processes of ``parley serve`` on one port, sharing the data dir."""
    stall_timeout: float | None = 120.0
    """Seconds a streaming client may read nothing (the server's write buffer full) before it is
    dropped, its response recorded as failed; None: never."""
    local_model: str | None = None
    """The GGUF file served when no provider is configured; None: the bundled SmolLM2; ``off``: none."""
    local_model_threads: int | None = None
    """CPU threads of the local model; None: llama.cpp's default."""

    @property
    def database_path(self) -> Path:
        return self.data_dir / "parley.db"


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""

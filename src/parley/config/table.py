"""Every setting, declared once: its name, environment variable and help, which feed the CLI's flags
and the README check (as datasette does)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    help: str
    switch: bool = False
    """A yes/no setting: its flag takes no value (``--allow-private-urls``), its env var 1 or 0."""


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "PARLEY_HOST", "Interface to listen on."),
    Setting("port", "PARLEY_PORT", "TCP port to listen on."),
    Setting("data_dir", "PARLEY_DATA_DIR", "Directory for the SQLite database and other state."),
    Setting(
        "database_url",
        "PARLEY_DATABASE_URL",
        "A PostgreSQL database (postgresql://user:password@host/db) instead of the data dir's SQLite: "
        "the scale-out backend, shared by every replica.",
    ),
    Setting(
        "files_url",
        "PARLEY_FILES_URL",
        "An S3-compatible bucket for uploaded files' bytes (s3://bucket/optional/prefix) instead of the "
        "data dir, shared by every replica; endpoint and credentials from the AWS_* environment variables.",
    ),
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
        "background_lease",
        "PARLEY_BACKGROUND_LEASE",
        "Seconds a server's claim on a background response lasts unless renewed (default 30; renewed "
        "every third of it): a response whose server died is settled failed this long after.",
    ),
    Setting(
        "allow_private_urls",
        "PARLEY_ALLOW_PRIVATE_URLS",
        "Hosted tools (MCP servers, search) may reach private, loopback and link-local addresses "
        "(env: 1 or 0, default 0).",
        switch=True,
    ),
    Setting(
        "allow_unauthenticated",
        "PARLEY_ALLOW_UNAUTHENTICATED",
        "Listen on a non-loopback interface although no API key exists, so anyone who can reach it "
        "may use it (env: 1 or 0, default 0).",
        switch=True,
    ),
    Setting(
        "web_search_provider",
        "PARLEY_WEB_SEARCH_PROVIDER",
        "Provider the web_search tool asks: searxng, tavily or brave; unset: each search is a tool error.",
    ),
    Setting("searxng_url", "PARLEY_SEARXNG_URL", "Base URL of a SearXNG server (its JSON format enabled)."),
    Setting("tavily_api_key", "TAVILY_API_KEY", "API key of Tavily, for web_search_provider tavily."),
    Setting("brave_api_key", "BRAVE_API_KEY", "API key of Brave Search, for web_search_provider brave."),
    Setting(
        "unknown_parameters",
        "PARLEY_UNKNOWN_PARAMETERS",
        "A /v1/responses body's top-level name OpenAI does not know: error (default: OpenAI's 400 "
        "unknown_parameter) or ignore (logged once per name), for clients newer than this server.",
    ),
    Setting(
        "summary_model",
        "PARLEY_SUMMARY_MODEL",
        "Model that writes reasoning summaries (reasoning.summary) with one short extra call, asked of "
        "each provider that names none of its own; unset: no summaries.",
    ),
    Setting(
        "max_request_bytes",
        "PARLEY_MAX_REQUEST_BYTES",
        "Largest JSON request body, in bytes (default 67108864, 64 MB); larger ones answer 413. "
        "Uploads to /v1/files have --max-file-bytes instead.",
    ),
    Setting(
        "max_input_items",
        "PARLEY_MAX_INPUT_ITEMS",
        "Most items one request's input may hold (default 10000); more answer 400.",
    ),
    Setting(
        "max_tool_calls",
        "PARLEY_MAX_TOOL_CALLS",
        "Most hosted tool calls one response runs (default 256; 0: no ceiling); a request's own "
        "max_tool_calls above it answers 400, and calls past it end the response incomplete.",
    ),
    Setting(
        "response_timeout",
        "PARLEY_RESPONSE_TIMEOUT",
        "Seconds one response may run (default 3600; 0: no limit); past it the response ends "
        "incomplete, incomplete_details.reason timeout.",
    ),
    Setting(
        "tool_timeout",
        "PARLEY_TOOL_TIMEOUT",
        "Seconds one hosted tool call (file_search, web_search, MCP) may run (default 300; 0: no "
        "limit of its own); past it the call fails and the model is told so.",
    ),
    Setting(
        "workers",
        "PARLEY_WORKERS",
        "Worker processes serving the port (default 1; auto: one per core). They share the data dir: "
        "any worker retrieves, continues or deletes what another created.",
    ),
    Setting(
        "stall_timeout",
        "PARLEY_STALL_TIMEOUT",
        "Seconds a streaming client may read nothing before it is dropped (default 120; 0: never); "
        "its response is recorded as failed.",
    ),
    Setting(
        "provider_server",
        "PARLEY_PROVIDER_SERVER",
        "The server at --provider-url (vllm, llama-server, llama-cpp-python, ollama, lm-studio, sglang, "
        "tgi, openai, generic); default auto: recognised at first contact. Sets its capability profile.",
    ),
    Setting(
        "provider_max_concurrency",
        "PARLEY_PROVIDER_MAX_CONCURRENCY",
        "Calls to --provider-url at once (default 0: no limit); more wait queued. Providers in the "
        "config file set max_concurrency each.",
    ),
    Setting(
        "local_model",
        "PARLEY_LOCAL_MODEL",
        "GGUF file llama.cpp serves when no provider is configured (default: the bundled "
        "SmolLM2-135M-Instruct); off: none, model calls answer 503.",
    ),
    Setting(
        "local_model_threads",
        "PARLEY_LOCAL_MODEL_THREADS",
        "CPU threads the local model generates with (default 0: llama.cpp's choice, half the cores).",
    ),
)

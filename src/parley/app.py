"""``create_app(settings)``: the one place that wires concrete parts together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import httpx2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from parley.api import passthrough, responses
from parley.api.common import json_response
from parley.api.errors import handle_http_exception, handle_parley_error, handle_unexpected
from parley.config import ProviderConfig, Settings
from parley.engine import EngineDeps
from parley.errors import ParleyError
from parley.providers.aiohttp_transport import AiohttpTransport
from parley.providers.base import Capabilities
from parley.providers.endpoint import Endpoint
from parley.providers.openai_compat import OpenAICompatProvider
from parley.providers.router import Router
from parley.recording import RecordingStore, RecordingTransport
from parley.sealing import ReasoningSealer, load_or_create_key
from parley.storage.chain_cache import ChainCache
from parley.storage.sqlite import Database, SqliteResponseStore

TransportFactory = Callable[[ProviderConfig], httpx2.AsyncBaseTransport]


def http_transport(config: ProviderConfig) -> httpx2.AsyncBaseTransport:
    """A pooled transport sized for many concurrent streams to one provider."""
    return AiohttpTransport(max_connections=1024)


def build_provider(
    config: ProviderConfig, settings: Settings, transport: httpx2.AsyncBaseTransport
) -> OpenAICompatProvider:
    if settings.recording_mode != "live":
        assert settings.recordings_dir is not None
        inner = None if settings.recording_mode == "replay" else transport
        transport = RecordingTransport(
            inner, settings.recording_mode, RecordingStore(settings.recordings_dir)
        )
    headers = {"authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    endpoint = Endpoint(config.url, transport, headers=headers, timeout=config.timeout)
    capabilities = Capabilities(
        native_custom_tools=config.native_custom_tools,
        reasoning_in_history=config.reasoning_in_history,
        think_tags=config.think_tags,
    )
    return OpenAICompatProvider(config.name, endpoint, capabilities)


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


async def shutdown(app: Starlette) -> None:
    """Close what ``create_app`` opened: provider connection pools, then the database."""
    deps: EngineDeps = app.state.deps
    for provider in deps.router.providers:
        await provider.aclose()
    await deps.responses.aclose()


def create_app(settings: Settings, transport_factory: TransportFactory = http_transport) -> Starlette:
    """Build the ASGI app; ``transport_factory`` lets tests put a fake provider on the wire."""
    database = Database(settings.database_path)
    store = ChainCache(SqliteResponseStore(database))
    providers = [build_provider(cfg, settings, transport_factory(cfg)) for cfg in settings.providers]
    router = Router([(p, cfg.models) for p, cfg in zip(providers, settings.providers, strict=True)])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await shutdown(app)

    app = Starlette(
        routes=[Route("/health", health), *responses.routes, *passthrough.routes],
        exception_handlers={
            ParleyError: handle_parley_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    key = load_or_create_key(settings.reasoning_key, settings.data_dir / "reasoning.key")
    app.state.deps = EngineDeps(responses=store, router=router, sealer=ReasoningSealer(key))
    return app

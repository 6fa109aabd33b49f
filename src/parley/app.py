"""``create_app(settings)``: the one place that wires concrete parts together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from parley.api import (
    conversations,
    files,
    openapi,
    passthrough,
    prompts,
    responses,
    ui,
    vector_store_files,
    vector_stores,
    websocket,
)
from parley.api.access_log import AccessLog
from parley.api.auth import Authentication, KeyRing
from parley.api.body_limit import BodyLimit
from parley.api.common import json_response
from parley.api.errors import handle_http_exception, handle_parley_error, handle_unexpected
from parley.config import ProviderConfig, Settings
from parley.engine import EngineDeps
from parley.engine.background import BackgroundResponses
from parley.engine.conversation import ConversationLocks
from parley.engine.limits import Limits
from parley.engine.live import Liveness, LiveResponses, settle_dead_workers
from parley.errors import ParleyError
from parley.providers.aiohttp_transport import AiohttpTransport
from parley.providers.concurrency import ConcurrencyLimit
from parley.providers.embedders import Embedder, RemoteEmbedder, local_embedder
from parley.providers.endpoint import Endpoint
from parley.providers.mcp_client import McpClients
from parley.providers.openai_compat import OpenAICompatProvider
from parley.providers.router import Router
from parley.providers.search import WebSearchBackends, search_provider
from parley.recording import RecordingStore, RecordingTransport
from parley.retrieval.library import VectorStoreLibrary
from parley.retrieval.pgvector_index import PgVectorIndexes
from parley.retrieval.store_index import EmbeddedIndexes, IndexOpener
from parley.sealing import ReasoningSealer, load_or_create_key
from parley.storage.backends import Stores, open_stores
from parley.storage.blob_locks import BlobLocks
from parley.storage.blobs import Blobs, BlobStore
from parley.storage.chain_cache import ChainCache
from parley.storage.processes import this_process
from parley.tools.base import ToolServices

TransportFactory = Callable[[ProviderConfig], httpx2.AsyncBaseTransport]
RETRIEVAL_ROUTES = [*files.routes, *vector_stores.routes, *vector_store_files.routes]


def http_transport(config: ProviderConfig) -> httpx2.AsyncBaseTransport:
    """A pooled transport sized for many concurrent streams to one provider."""
    return AiohttpTransport(max_connections=1024)


def outbound_transport(
    settings: Settings, inner: httpx2.AsyncBaseTransport | None
) -> httpx2.AsyncBaseTransport:
    """The one outbound seam every client is built on (chat, embeddings, hosted tools): ``inner``
    as it is in live mode, behind the recorder otherwise (replay never reaches ``inner``)."""
    if settings.recording_mode == "live":
        assert inner is not None, "live mode needs a transport to the outside"
        return inner
    assert settings.recordings_dir is not None
    upstream = None if settings.recording_mode == "replay" else inner
    return RecordingTransport(upstream, settings.recording_mode, RecordingStore(settings.recordings_dir))


def build_provider(
    config: ProviderConfig, settings: Settings, transport: httpx2.AsyncBaseTransport
) -> OpenAICompatProvider:
    headers = {"authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    outbound = outbound_transport(settings, transport)
    if config.max_concurrency is not None:  # outermost: a call queued here has sent nothing yet
        outbound = ConcurrencyLimit(outbound, config.max_concurrency)
    endpoint = Endpoint(config.url, outbound, headers=headers, timeout=config.timeout)
    policy = {
        "unknown_parameters": config.unknown_parameters or settings.unknown_parameters,
        "extra_parameters": config.extra_parameters,
        "summary_model": config.summary_model_or(settings.summary_model),
    }
    overrides = {**config.capabilities, **policy}
    return OpenAICompatProvider(config.name, endpoint, server=config.server, overrides=overrides)


def build_limits(settings: Settings) -> Limits:
    return Limits(
        max_input_items=settings.max_input_items,
        max_tool_calls=settings.max_tool_calls,
        response_timeout=settings.response_timeout,
        tool_timeout=settings.tool_timeout,
    )


def build_embedder(settings: Settings, transport_factory: TransportFactory) -> Embedder:
    """The embedder of new vector stores: a remote /embeddings server through the recorder, or local."""
    if settings.embedding_url is None:
        return local_embedder(settings.embedding_model or "minilm")
    assert settings.embedding_model is not None
    config = ProviderConfig("embeddings", settings.embedding_url, settings.embedding_api_key)
    headers = {"authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    transport = outbound_transport(settings, transport_factory(config))
    endpoint = Endpoint(config.url, transport, headers=headers, timeout=config.timeout)
    return RemoteEmbedder(config.name, endpoint, settings.embedding_model)


def build_blobs(settings: Settings, stores: Stores) -> Blobs:
    """Uploaded bytes in the data dir, or in an S3-compatible bucket (``files_url``) that replicas
    on several machines share; either way each blob's lock is also the database's, which every
    process sharing it sees (``storage/blob_locks.py``)."""
    locks = BlobLocks(stores.locks, this_process(), stores.heartbeats)
    if settings.files_url is None:
        return BlobStore(settings.data_dir / "files", locks)
    from parley.storage.s3_blobs import S3BlobStore  # obstore's native library: only when configured

    return S3BlobStore.from_url(settings.files_url, settings.data_dir / "files", locks)


def build_library(
    settings: Settings, stores: Stores, transport_factory: TransportFactory
) -> VectorStoreLibrary:
    """Files and vector stores share the database; so do the stores' chunks over PostgreSQL
    (pgvector), which are otherwise embedded indexes in the data dir."""
    return VectorStoreLibrary(
        stores.vector_stores,
        stores.files,
        build_blobs(settings, stores),
        [build_embedder(settings, transport_factory)],
        _indexes(settings, stores),
    )


def _indexes(settings: Settings, stores: Stores) -> IndexOpener:
    if stores.postgres is not None:
        return PgVectorIndexes(stores.postgres)
    return EmbeddedIndexes(settings.data_dir / "vector_stores")


def build_web_search(settings: Settings, transport_factory: TransportFactory) -> WebSearchBackends:
    """The web search provider through the outbound seam, and the same provider answering only from
    recordings (``external_web_access: false``) when there is a recordings dir."""
    name = settings.web_search_provider
    if name is None:
        return WebSearchBackends()
    url = settings.searxng_url if name == "searxng" else None
    key = settings.tavily_api_key if name == "tavily" else settings.brave_api_key
    inner = transport_factory(ProviderConfig("web_search", url or "https://search.invalid"))
    live = search_provider(name, outbound_transport(settings, inner), url=url, api_key=key)
    if settings.recordings_dir is None:
        return WebSearchBackends(live)
    replay = RecordingTransport(None, "replay", RecordingStore(settings.recordings_dir))
    return WebSearchBackends(live, search_provider(name, replay, url=url, api_key=key))


def build_mcp(settings: Settings) -> McpClients:
    """MCP sessions on the outbound seam, recorded and replayed like every other call."""
    inner = httpx2.AsyncHTTPTransport()
    return McpClients(outbound_transport(settings, inner), allow_private=settings.allow_private_urls)


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


async def shutdown(app: Starlette) -> None:
    """Close what ``create_app`` opened: background work, provider connection pools, the database."""
    deps: EngineDeps = app.state.deps
    library: VectorStoreLibrary = app.state.library
    await app.state.background.aclose()  # what runs ends failed, stored before the database closes
    await library.aclose()  # stops ingestion before the database it writes to closes
    await deps.tools.web_search.aclose()
    if deps.tools.mcp is not None:
        await deps.tools.mcp.aclose()
    for provider in deps.router.providers:
        await provider.aclose()
    await deps.responses.aclose()


ROUTES = [
    Route("/health", health),
    *responses.routes,
    websocket.route,
    *conversations.routes,
    *prompts.routes,
    *passthrough.routes,
    *RETRIEVAL_ROUTES,
    *openapi.routes,
]
EXCEPTION_HANDLERS = {
    ParleyError: handle_parley_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await app.state.stores.start()  # PostgreSQL: connected and migrated before the first request
    await app.state.deps.sealer.start()  # and the reasoning key replicas share fetched, or made
    await app.state.library.start()  # resume ingestion a previous run left in progress
    await app.state.background.start()  # and settle background responses a dead process left
    await settle_dead_workers(app.state.deps.responses)  # and streams a dead worker left running
    heartbeat = _beating(app)  # replicas on other machines: heard from, and settled when silent
    try:
        yield
    finally:
        if heartbeat is not None:
            heartbeat.cancel()
        await shutdown(app)


def _beating(app: Starlette) -> asyncio.Task[None] | None:
    stores: Stores = app.state.stores
    if stores.heartbeats is None:
        return None
    liveness = Liveness(
        app.state.deps.responses, stores.heartbeats, app.state.deps.live.worker or this_process()
    )
    return asyncio.get_running_loop().create_task(liveness.run(), name="parley-heartbeat")


def _shared_across_workers(settings: Settings, stores: Stores) -> dict[str, Any]:
    """With several worker processes, or replicas sharing PostgreSQL, running responses and
    conversations' locks go through the database, where every process sees them; alone, this
    process keeps them to itself."""
    if settings.workers == 1 and not stores.shared:
        return {}
    worker = this_process()
    return {
        "live": LiveResponses(worker),
        "conversation_locks": ConversationLocks(stores.locks, worker, stores.heartbeats),
    }


def _reasoning_sealer(settings: Settings, stores: Stores) -> ReasoningSealer:
    """A configured key wins. Else replicas over one PostgreSQL share the key it holds (each has a
    data dir of its own), fetched on start; a server alone keeps its key in the data dir, which
    its workers share."""
    if not settings.reasoning_key and stores.reasoning_key is not None:
        return ReasoningSealer(stores.reasoning_key.reasoning_key)
    return ReasoningSealer(load_or_create_key(settings.reasoning_key, settings.data_dir / "reasoning.key"))


def create_app(settings: Settings, transport_factory: TransportFactory = http_transport) -> Starlette:
    """Build the ASGI app; ``transport_factory`` lets tests put a fake provider on the wire."""
    stores = open_stores(settings.database_url, settings.data_dir)
    providers = [build_provider(cfg, settings, transport_factory(cfg)) for cfg in settings.providers]
    router = Router([(p, cfg.models) for p, cfg in zip(providers, settings.providers, strict=True)])
    keys = KeyRing(stores.keys, settings.api_keys)
    middleware = [Middleware(AccessLog), Middleware(Authentication, keys=keys)]
    middleware.append(Middleware(BodyLimit, max_bytes=settings.max_request_bytes))
    app = Starlette(
        routes=[*ROUTES, *ui.routes],  # the API, then the web UI over it
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.keys = keys
    app.state.settings = settings
    app.state.stores = stores
    app.state.library = library = build_library(settings, stores, transport_factory)
    app.state.deps = deps = EngineDeps(
        responses=ChainCache(stores.responses, deletes=stores.deletes),
        router=router,
        sealer=_reasoning_sealer(settings, stores),
        tools=ToolServices(
            vector_stores=library,
            web_search=build_web_search(settings, transport_factory),
            mcp=build_mcp(settings),
        ),
        conversations=stores.conversations,
        prompts=stores.prompts,
        limits=build_limits(settings),
        **_shared_across_workers(settings, stores),
    )
    app.state.background = BackgroundResponses(
        deps,
        stores.background,
        max_running=settings.max_background,
        max_queued=settings.max_background_queue,
        lease=settings.background_lease,
    )
    return app

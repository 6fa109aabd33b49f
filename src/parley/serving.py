"""``parley serve`` once its flags are read: who may connect, the local model, the app, uvicorn.

Start-up says, in a few lines, what a new user needs to know first: where to point a client, which
providers and models answer, where state lives, and whether a key is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from parley import __version__
from parley.config import Settings
from parley.keys import active_count
from parley.local_model import serve_local_model, with_local_model
from parley.providers.profiles import server_of_url
from parley.supervisor import can_share_port, run_workers

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger("parley")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

WEBSOCKETS: dict[str, Any] = {
    "ws": "websockets-sansio",
    # Frames past this (bytes) close the socket (1009); messages past api/websocket.py's
    # MAX_MESSAGE_CHARS, half of it, are answered with an error and the socket stays usable.
    "ws_max_size": 32 * 1024 * 1024,
    # Heartbeat: a ping every 20 s keeps an idle socket open through proxies, and a peer that
    # does not answer one within 20 s is dropped (its turn stops, as on a closed HTTP stream).
    "ws_ping_interval": 20.0,
    "ws_ping_timeout": 20.0,
    # A turn is many small events: compressing each costs more CPU than it saves on the wire.
    "ws_per_message_deflate": False,
}
"""uvicorn's WebSocket settings for ``/v1/responses`` (WebSocket mode)."""

OPEN_PATHS = "/health, /openapi.json and /docs"
STARTUP_FAILURE = 3
"""The exit status of a server that could not start (uvicorn's)."""


def serve(settings: Settings) -> int:
    keys = asyncio.run(active_count(settings))
    if not _may_listen(settings, keys):
        return 2
    local = serve_local_model(settings)  # loads while the app is built; None with a provider configured
    try:
        return _run(with_local_model(settings, local), keys)
    finally:
        if local is not None:
            local.stop()


def summary(settings: Settings, keys: int) -> list[str]:
    """What start-up tells: the address for clients, providers and their models, state, auth."""
    base = f"http://{settings.host}:{settings.port}"
    lines = [f"Parley {__version__} on {base}: an OpenAI client's base_url is {base}/v1; docs: {base}/docs"]
    for provider in settings.providers:
        models = ", ".join(provider.models) if provider.models else "every model no other provider claims"
        server = provider.server or server_of_url(provider.url) or "server recognised at its first request"
        lines.append(f"Provider {provider.name} at {provider.url} ({server}): {models}")
    if not settings.providers:
        lines.append("No provider: model calls answer 503 (pass --provider-url URL, or --config FILE).")
    lines.append(f"State: {settings.data_dir} (SQLite {settings.database_path.name}, files, vector stores)")
    if settings.workers > 1:
        lines.append(f"Workers: {settings.workers} processes on the port, sharing that state")
    if keys:
        lines.append(f"Authentication on: {keys} API key(s); every path but {OPEN_PATHS} needs one.")
    elif _is_loopback(settings.host):
        lines.append(
            "Authentication off (no API keys): loopback only. Make one: parley keys create --owner NAME"
        )
    else:
        lines.append(f"Authentication off on {settings.host} (--allow-unauthenticated): anyone may use it.")
    return lines


def _run(settings: Settings, keys: int) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    for line in summary(settings, keys):
        log.info("%s", line)
    config = uvicorn.Config(
        WorkerApp(settings),
        factory=True,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,  # api/access_log.py writes one line per request, with the response id
        loop="auto",
        http="auto",
        **WEBSOCKETS,
    )
    if settings.workers == 1:
        server = uvicorn.Server(config)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: it has shut down gracefully already
            server.run()
        return 0 if server.started else STARTUP_FAILURE
    # Processes started afresh (spawn); one that dies is replaced, and the one that takes its place
    # settles what it left running (app.lifespan).
    if can_share_port():
        return run_workers(config, settings.workers)
    Multiprocess(config, sockets=[config.bind_socket()]).run()  # one socket: connections land unevenly
    return 0


@dataclass(frozen=True)
class WorkerApp:
    """What each worker process calls to build its app (uvicorn's factory): the settings travel
    with it to a spawned process, where logging is set up again."""

    settings: Settings

    def __call__(self) -> Starlette:
        from parley.app import create_app

        logging.basicConfig(level=self.settings.log_level.upper(), format=LOG_FORMAT)
        app = create_app(self.settings)
        # What start-up made (modules, schemas, validators) lives as long as the process: out of the
        # collector's sight, each collection scans only what requests make (measured: ~3% of a response).
        gc.collect()
        gc.freeze()
        return app


def _may_listen(settings: Settings, keys: int) -> bool:
    """Without API keys, only loopback: anyone who can reach another interface could use the server."""
    if keys or _is_loopback(settings.host):
        return True
    if settings.allow_unauthenticated:
        log.warning("No API keys, and %s is not loopback: anyone who can reach it may use it.", settings.host)
        return True
    print(
        f"parley: refusing to listen on {settings.host} without API keys. Make one with "
        "'parley keys create --owner NAME', or pass --allow-unauthenticated.",
        file=sys.stderr,
    )
    return False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

"""``parley serve`` and ``parley ingest``: parse flags, build Settings, hand over. Nothing else lives here."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parley.config import SETTINGS, ConfigError, load_settings

ANONYMOUS = "anonymous"  # the owner of everything until API keys exist (api/common.py says the same)

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

_SERVE_FLAGS = ("host", "port", "provider_url", "provider_api_key", "data_dir", "config", "log_level")
_INGEST_FLAGS = ("data_dir", "config", "log_level")


def _add_setting_flags(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    for setting in SETTINGS:
        if setting.name in names:
            flag = "--" + setting.name.replace("_", "-")
            parser.add_argument(
                flag, dest=setting.name, default=None, help=f"{setting.help} [env: {setting.env}]"
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description="A self-hosted OpenAI Responses API server.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="Run the HTTP server.")
    _add_setting_flags(serve, _SERVE_FLAGS)
    ingest = commands.add_parser(
        "ingest", help="Load files into a vector store (skips files already there, so it resumes)."
    )
    ingest.add_argument("paths", nargs="+", type=Path, help="Files or folders (searched recursively).")
    ingest.add_argument("--vector-store", required=True, help="Store name; created if this owner has none.")
    ingest.add_argument("--owner", default=ANONYMOUS, help=f"Owner of the store and files ({ANONYMOUS}).")
    _add_setting_flags(ingest, _INGEST_FLAGS)
    return parser


def serve(flags: dict[str, object]) -> int:
    try:
        settings = load_settings(flags)
    except ConfigError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    from parley.app import create_app

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not settings.providers:
        logging.getLogger("parley").warning(
            "No inference provider configured: model calls will answer 503. Pass --provider-url URL."
        )
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        loop="auto",
        http="auto",
        **WEBSOCKETS,
    )
    return 0


def ingest(paths: list[Path], store: str, owner: str, flags: dict[str, object]) -> int:
    try:
        settings = load_settings(flags)
    except ConfigError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    import asyncio

    from parley.bulk import ingest as run_ingest

    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        tally = asyncio.run(run_ingest(settings, paths, store, owner))
    except FileNotFoundError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    return 1 if tally.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "ingest":
        flags = {name: getattr(args, name) for name in _INGEST_FLAGS}
        return ingest(args.paths, args.vector_store, args.owner, flags)
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    if args.command == "serve":
        return serve(flags)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

"""``parley serve``: parse flags, build Settings, run the app. Nothing else lives here."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from parley.config import SETTINGS, ConfigError, load_settings

_SERVE_FLAGS = ("host", "port", "provider_url", "provider_api_key", "data_dir", "config", "log_level")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description="A self-hosted OpenAI Responses API server.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="Run the HTTP server.")
    for setting in SETTINGS:
        if setting.name in _SERVE_FLAGS:
            flag = "--" + setting.name.replace("_", "-")
            serve.add_argument(
                flag, dest=setting.name, default=None, help=f"{setting.help} [env: {setting.env}]"
            )
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
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    if args.command == "serve":
        return serve(flags)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

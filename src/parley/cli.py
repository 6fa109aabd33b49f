"""``parley serve``, ``ingest``, ``keys`` and ``migrate``: parse flags, build Settings, hand over.

Nothing else lives here."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parley.config import SETTINGS, ConfigError, Settings, load_settings

ANONYMOUS = "anonymous"  # the owner of everything until API keys exist (api/common.py says the same)

_SERVE_FLAGS = tuple(setting.name for setting in SETTINGS)
_DATA_FLAGS = ("data_dir", "database_url", "files_url", "config", "log_level")


def _add_setting_flags(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    for setting in SETTINGS:
        if setting.name in names:
            flag = "--" + setting.name.replace("_", "-")
            help_ = f"{setting.help} [env: {setting.env}]"
            if setting.switch:
                parser.add_argument(flag, dest=setting.name, action="store_const", const="1", help=help_)
            else:
                parser.add_argument(flag, dest=setting.name, default=None, help=help_)


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
    _add_setting_flags(ingest, _DATA_FLAGS)
    _add_keys_parser(commands)
    migrate = commands.add_parser(
        "migrate", help="Bring the database's schema up to date (serve does it too) and say what it applied."
    )
    _add_setting_flags(migrate, _DATA_FLAGS)
    return parser


def _add_keys_parser(commands: Any) -> None:
    keys = commands.add_parser("keys", help="Make, list and revoke API keys (given the data dir of serve).")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="Make a key; it is printed once, alone on the last line.")
    create.add_argument("--owner", required=True, help="Whose objects the key reads and writes.")
    create.add_argument("--admin", action="store_true", help="May act for any owner (Parley-Owner header).")
    create.add_argument("--name", default="", help="A label to tell keys apart in 'keys list'.")
    listing = actions.add_parser("list", help="Every key, revoked ones too (never the keys themselves).")
    revoke = actions.add_parser("revoke", help="Stop accepting a key (within a second on a running server).")
    revoke.add_argument("key_id", help="The key's id, as 'keys list' shows it (key_...).")
    for action in (create, listing, revoke):
        _add_setting_flags(action, _DATA_FLAGS)


def serve(settings: Settings) -> int:
    from parley.serving import LOG_FORMAT
    from parley.serving import serve as run_server

    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)

    return run_server(settings)


def keys(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from parley import keys as key_admin

    if args.action == "create":
        key, secret = asyncio.run(key_admin.create(settings, args.owner, admin=args.admin, name=args.name))
        role = " (admin)" if key.admin else ""
        print(f"Made {key.id} for owner {key.owner}{role}. Keep the key: it is not shown again.")
        print(secret)
        return 0
    if args.action == "list":
        for key in asyncio.run(key_admin.listing(settings)):
            print(key_admin.describe(key))
        return 0
    if not asyncio.run(key_admin.revoke(settings, args.key_id)):
        print(f"parley: no active key {args.key_id!r}.", file=sys.stderr)
        return 1
    print(f"Revoked {args.key_id}.")
    return 0


def ingest(paths: list[Path], store: str, owner: str, settings: Settings) -> int:
    import asyncio

    from parley.bulk import ingest as run_ingest

    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        tally = asyncio.run(run_ingest(settings, paths, store, owner))
    except FileNotFoundError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    return 1 if tally.failed else 0


def migrate(settings: Settings) -> int:
    import asyncio

    from parley.errors import DatabaseUnavailable
    from parley.storage.backends import open_stores

    async def run() -> tuple[str, list[str]]:
        stores = open_stores(settings.database_url, settings.data_dir)
        try:
            return stores.where, await stores.start()
        finally:
            await stores.aclose()

    try:
        where, applied = asyncio.run(run())
    except DatabaseUnavailable as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 1
    print(f"{where}: applied {', '.join(applied)}." if applied else f"{where}: up to date.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = _SERVE_FLAGS if args.command == "serve" else _DATA_FLAGS
    try:
        settings = load_settings({name: getattr(args, name) for name in names})
    except ConfigError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        return migrate(settings)
    if args.command == "ingest":
        return ingest(args.paths, args.vector_store, args.owner, settings)
    if args.command == "keys":
        return keys(args, settings)
    return serve(settings)


if __name__ == "__main__":
    raise SystemExit(main())

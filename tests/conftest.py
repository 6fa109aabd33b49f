"""Shared fixtures: Parley in-process over a scripted upstream, and a network guard.

Tests never touch the internet: any socket connection to a non-loopback
address fails the test that tried it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from parley.app import create_app, shutdown
from parley.config import ProviderConfig, Settings
from parley.testing.fake_upstream import FakeUpstream, Reply
from tests.support.postgres import fresh_schema, postgres_server

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if (
        isinstance(host, str)
        and not (host.startswith("127.") or host in ("::1", "localhost"))
        and self.family in (socket.AF_INET, socket.AF_INET6)
    ):
        raise RuntimeError(f"Tests must not reach the network (tried {address!r}).")
    _real_connect(self, address)


RECORDING = os.environ.get("PARLEY_RECORDING_MODE") in ("record", "record-if-missing")


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    """Off only while recording against a live provider (PARLEY_RECORDING_MODE=record...)."""
    if RECORDING:
        yield
        return
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL for the whole session, started on first use (``tests/support/postgres.py``)."""
    with postgres_server() as url:
        yield url


@dataclass
class Harness:
    app: Starlette
    client: httpx2.AsyncClient
    fake: FakeUpstream

    async def aclose(self) -> None:
        await self.client.aclose()
        await shutdown(self.app)

    async def create(self, **body: Any) -> httpx2.Response:
        body.setdefault("model", "fake-model")
        return await self.client.post("/v1/responses", json=body)


Script = Sequence[Reply] | Callable[[dict[str, Any]], Reply] | None
Wrap = Callable[[httpx2.AsyncBaseTransport], httpx2.AsyncBaseTransport]


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "providers": (ProviderConfig("default", "http://upstream.test/v1"),),
    }
    values.update(overrides)
    return Settings(**values)


HARNESS_BACKEND = os.environ.get("PARLEY_TEST_BACKEND", "sqlite")
"""``postgres`` runs every harness over PostgreSQL (a schema per test) instead of SQLite."""


@pytest.fixture
async def harness_database(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    if HARNESS_BACKEND != "postgres":
        yield None
        return
    async with fresh_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
async def harness_factory(
    tmp_path: Path, harness_database: str | None
) -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def factory(script: Script = None, *, wrap: Wrap | None = None, **settings: Any) -> Harness:
        """``wrap`` puts a transport of the test's own between Parley and the fake upstream."""
        if harness_database is not None:
            settings.setdefault("database_url", harness_database)
        fake = FakeUpstream(script)
        upstream: httpx2.AsyncBaseTransport = httpx2.ASGITransport(app=fake.app)
        transport = wrap(upstream) if wrap else upstream
        app = create_app(make_settings(tmp_path, **settings), transport_factory=lambda cfg: transport)
        client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://parley.test")
        harness = Harness(app, client, fake)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        await harness.aclose()


@pytest.fixture
def harness(harness_factory: Callable[..., Harness]) -> Harness:
    return harness_factory()

"""Which key seals reasoning for stateless clients: replicas over one PostgreSQL share the one it
holds, whatever their data dirs; a configured key wins over it; a server on SQLite keeps its key
in its data dir."""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from parley.app import create_app, shutdown
from parley.sealing import ReasoningSealer
from parley.testing.fake_upstream import Reply
from tests.conftest import Harness, make_settings
from tests.support.postgres import fresh_schema


@pytest.fixture
async def schema_url(postgres_url: str) -> AsyncIterator[str]:
    async with fresh_schema(postgres_url) as url:
        yield url


def _replica(data_dir: Path, schema_url: str, **settings: Any) -> Any:
    app = create_app(make_settings(data_dir, database_url=schema_url, **settings))
    return app.router.lifespan_context(app), app


async def test_replicas_over_one_postgresql_open_what_each_other_sealed(
    tmp_path: Path, schema_url: str
) -> None:
    first_running, first = _replica(tmp_path / "a", schema_url)
    second_running, second = _replica(tmp_path / "b", schema_url)
    async with contextlib.AsyncExitStack() as running:
        await running.enter_async_context(first_running)
        await running.enter_async_context(second_running)
        assert second.state.deps.sealer.open(first.state.deps.sealer.seal("the plan")) == "the plan"
        assert first.state.deps.sealer.open(second.state.deps.sealer.seal("the plan")) == "the plan"
    assert not (tmp_path / "a" / "reasoning.key").exists()
    assert not (tmp_path / "b" / "reasoning.key").exists()


async def test_a_replica_run_without_a_lifespan_fetches_the_key_on_its_first_turn(
    schema_url: str, harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    """(The schema is asked for first, so that it is dropped after the harnesses close.)"""
    first = harness_factory(
        [Reply(reasoning="The plan.", text="Done.")], database_url=schema_url, data_dir=tmp_path / "a"
    )
    second = harness_factory([Reply(text="Again.")], database_url=schema_url, data_dir=tmp_path / "b")
    r = await first.create(input="hi", store=False, include=["reasoning.encrypted_content"])
    assert r.status_code == 200, r.text
    output = r.json()["output"]
    assert output[0]["encrypted_content"]
    r = await second.create(
        store=False,
        input=[{"role": "user", "content": "hi"}, *output, {"role": "user", "content": "and now?"}],
    )
    assert r.status_code == 200, r.text  # a key of its own would make the reasoning "tampered" (400)
    assert "The plan." in json.dumps(second.fake.requests[0])


async def test_a_configured_key_wins_over_the_databases(tmp_path: Path, schema_url: str) -> None:
    configured = os.urandom(32)
    running, app = _replica(tmp_path, schema_url, reasoning_key=base64.b64encode(configured).decode())
    async with running:
        assert ReasoningSealer(configured).open(app.state.deps.sealer.seal("the plan")) == "the plan"
    conn = await asyncpg.connect(schema_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM reasoning_key") == 0
    finally:
        await conn.close()


async def test_a_server_on_sqlite_keeps_its_key_in_the_data_dir(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    try:
        kept = base64.b64decode((tmp_path / "reasoning.key").read_text())
        assert ReasoningSealer(kept).open(app.state.deps.sealer.seal("the plan")) == "the plan"
    finally:
        await shutdown(app)

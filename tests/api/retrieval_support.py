"""Parley in-process behind the official ``openai`` SDK, for the Files and Vector Stores tests.

``Parley.start()`` builds an app on one data dir; calling it again after ``stop()`` is a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import openai
from openai.types import VectorStore
from openai.types.vector_stores import VectorStoreFile
from starlette.applications import Starlette

from parley.app import create_app, shutdown
from tests.conftest import make_settings

BASE_URL = "http://parley.test/v1"
JAN, FEB, MAR = 1704067200, 1706745600, 1709251200

Attributes = dict[str, str | float | bool]
DOCS: dict[str, tuple[bytes, Attributes]] = {
    "eu-report.txt": (
        b"Quarterly revenue in Europe grew twelve percent, driven by rooftop solar panel sales in Spain.",
        {"region": "eu", "category": "finance", "date": JAN},
    ),
    "us-memo.txt": (
        b"The lease contract for the Texas warehouse has a termination clause with ninety days notice.",
        {"region": "us", "category": "legal", "date": FEB},
    ),
    "eu-runbook.md": (
        b"Runbook: upgrading the Kubernetes cluster in the Frankfurt datacenter, draining nodes one by one.",
        {"region": "eu", "category": "engineering", "date": MAR},
    ),
}


@dataclass
class Parley:
    data_dir: Path
    settings: dict[str, Any] = field(default_factory=dict)
    app: Starlette | None = None
    http: httpx2.AsyncClient | None = None
    sdk: openai.AsyncOpenAI | None = None

    def start(self) -> openai.AsyncOpenAI:
        self.app = create_app(make_settings(self.data_dir, **self.settings))
        self.http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app), base_url=BASE_URL)
        self.sdk = openai.AsyncOpenAI(base_url=BASE_URL, api_key="test", http_client=self.http, max_retries=0)
        return self.sdk

    async def stop(self) -> None:
        if self.app is not None and self.http is not None:
            await self.http.aclose()
            await shutdown(self.app)
        self.app = self.http = self.sdk = None

    @property
    def raw(self) -> httpx2.AsyncClient:
        """Plain HTTP to the same app, for requests the SDK would refuse to send."""
        assert self.http is not None
        return self.http


async def wait_for_file(sdk: openai.AsyncOpenAI, store_id: str, file_id: str) -> VectorStoreFile:
    """Poll, as a client would, until the file leaves ``in_progress``."""
    deadline = time.monotonic() + 60
    while True:
        found = await sdk.vector_stores.files.retrieve(file_id, vector_store_id=store_id)
        if found.status != "in_progress" or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.02)


async def load_docs(parley: Parley) -> tuple[VectorStore, dict[str, str]]:
    """A store holding the three documents, attached one by one, all completed."""
    client = parley.sdk
    assert client is not None
    store = await client.vector_stores.create(name="docs", metadata={"team": "ops"})
    ids: dict[str, str] = {}
    for name, (data, attributes) in DOCS.items():
        file = await client.files.create(file=(name, data), purpose="assistants")
        attached = await client.vector_stores.files.create(
            vector_store_id=store.id, file_id=file.id, attributes=attributes
        )
        assert attached.status == "in_progress"
        ids[name] = file.id
    for file_id in ids.values():
        assert (await wait_for_file(client, store.id, file_id)).status == "completed"
    return store, ids


async def search(parley: Parley, store_id: str, query: str, **body: Any) -> list[str]:
    assert parley.sdk is not None
    extra = {k: body.pop(k) for k in ("search_mode",) if k in body}
    page = await parley.sdk.vector_stores.search(store_id, query=query, extra_body=extra or None, **body)
    return [result.file_id for result in page.data]


@asynccontextmanager
async def running(data_dir: Path, settings: dict[str, Any] | None = None) -> AsyncIterator[Parley]:
    """A started ``Parley`` over ``data_dir``, stopped afterwards: a test module's fixture."""
    server = Parley(data_dir, settings or {})
    server.start()
    try:
        yield server
    finally:
        await server.stop()

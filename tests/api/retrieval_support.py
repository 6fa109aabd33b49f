"""Parley in-process behind the official ``openai`` SDK, for the Files and Vector Stores tests.

``Parley.start()`` builds an app on one data dir; calling it again after ``stop()`` is a restart.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import openai
from openai.types.vector_stores import VectorStoreFile
from starlette.applications import Starlette

from parley.app import create_app, shutdown
from tests.conftest import make_settings

BASE_URL = "http://parley.test/v1"


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

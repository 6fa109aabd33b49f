"""The client matrix reuses the end-to-end harness: Parley and the scripted upstream served on loopback.

Each client under test is pointed at ``parley_url`` exactly as a user would point it at OpenAI, and
each test scripts the upstream's chat answers with ``upstream.script(Reply(...), ...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import orjson
import pytest

from tests.e2e.conftest import parley_url, scripted_upstream, upstream

__all__ = ["RecordingClient", "parley_url", "recording_client", "scripted_upstream", "upstream"]


class RecordingClient:
    """An ``AsyncOpenAI`` for Parley that keeps the JSON body of every request the client library sends,
    so a test can see what reached Parley (``previous_response_id``, input items), not only upstream."""

    def __init__(self, parley_url: str) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.http = httpx2.AsyncClient(event_hooks={"request": [self._keep]}, timeout=20.0)
        self.openai = openai.AsyncOpenAI(
            base_url=parley_url, api_key="test", max_retries=0, timeout=20.0, http_client=self.http
        )

    async def _keep(self, request: httpx2.Request) -> None:
        if request.method == "POST":
            self.bodies.append(orjson.loads(request.content))


@pytest.fixture
async def recording_client(parley_url: str) -> AsyncIterator[RecordingClient]:
    client = RecordingClient(parley_url)
    async with client.http, client.openai:
        yield client

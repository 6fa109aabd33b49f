"""Waiting, as a client would, for a vector store to finish ingesting what was attached to it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2


async def ingested_counts(client: httpx2.AsyncClient, store_id: str, tries: int = 3000) -> dict[str, Any]:
    """The store's ``file_counts`` once none is ``in_progress`` (polled every 10 ms)."""
    for _ in range(tries):
        counts: dict[str, Any] = (await client.get(f"/v1/vector_stores/{store_id}")).json()["file_counts"]
        if counts["in_progress"] == 0:
            return counts
        await asyncio.sleep(0.01)
    raise AssertionError(f"vector store {store_id} still ingesting: {counts}")

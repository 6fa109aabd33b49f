"""A vector store embedded by a provider: its /embeddings calls go through the recorder, so a run
recorded once replays offline, ingestion and query embedding alike, with the same answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from tests.conftest import Harness
from tests.support.stores import ingested_counts

DOCS = {
    "harbour.txt": "The harbour master logs every ship that enters after sunset.",
    "bakery.txt": "The bakery on Elm Street sells rye bread on Saturdays only.",
}


def _no_network(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(599, text="live call attempted in replay mode")


async def search_once(h: Harness) -> list[dict[str, Any]]:
    store = (await h.client.post("/v1/vector_stores", json={"name": "town"})).json()
    for name, text in DOCS.items():
        file = (await h.client.post("/v1/files", files={"file": (name, text.encode())},
                                    data={"purpose": "assistants"})).json()  # fmt: skip
        await h.client.post(f"/v1/vector_stores/{store['id']}/files", json={"file_id": file["id"]})
    counts = await ingested_counts(h.client, store["id"])
    assert counts["completed"] == 2, counts
    query = {"query": "when is rye bread sold", "search_mode": "vector"}
    found = await h.client.post(f"/v1/vector_stores/{store['id']}/search", json=query)
    assert found.status_code == 200, found.text
    return [{k: hit[k] for k in ("filename", "score")} for hit in found.json()["data"]]


async def test_provider_embeddings_are_recorded_then_replayed_offline(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    recordings = tmp_path / "recordings"
    embedding = {"embedding_url": "http://upstream.test/v1", "embedding_model": "fake-embed"}
    live = harness_factory(recording_mode="record", recordings_dir=recordings, **embedding)
    recorded = await search_once(live)
    assert {hit["filename"] for hit in recorded} == set(DOCS)
    assert any(recordings.rglob("*.json")), "the embedding calls were recorded"

    offline = harness_factory(
        wrap=lambda upstream: httpx2.MockTransport(_no_network),
        recording_mode="replay",
        recordings_dir=recordings,
        data_dir=tmp_path / "offline",
        **embedding,
    )
    assert await search_once(offline) == recorded

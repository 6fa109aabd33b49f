"""Searching a store keeps it alive (``last_active_at``, its expiry anchor) without a write per search."""

from __future__ import annotations

from pathlib import Path

from parley.providers.embedders import local_embedder
from parley.retrieval.library import TOUCH_EVERY, VectorStoreLibrary
from parley.retrieval.query import SearchOptions
from parley.retrieval.store_index import EmbeddedIndexes
from parley.storage.blobs import BlobStore
from parley.storage.sqlite import Database, SqliteFileStore, SqliteVectorStoreStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_search_marks_the_store_active_at_most_once_a_minute(tmp_path: Path) -> None:
    clock, database = Clock(), Database(tmp_path / "parley.db")
    library = VectorStoreLibrary(
        SqliteVectorStoreStore(database),
        SqliteFileStore(database),
        BlobStore(tmp_path / "files"),
        [local_embedder()],
        EmbeddedIndexes(tmp_path / "vector_stores"),
        clock,
    )
    store = await library.create_store("alice", name="s", metadata={}, expires_after_days=1)
    keyword = SearchOptions(mode="keyword")
    created = store.last_active_at

    clock.now += TOUCH_EVERY - 1
    await library.search([store.id], "alice", "anything", keyword)
    assert (await library.store(store.id, "alice")).last_active_at == created

    clock.now += 1
    await library.search([store.id], "alice", "anything", keyword)
    assert (await library.store(store.id, "alice")).last_active_at == int(clock.now)
    await library.aclose()
    await database.aclose()

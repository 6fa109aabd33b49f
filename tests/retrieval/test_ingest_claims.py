"""Ingestion when several worker processes share one data dir: each file is ingested by one of them.

Each ``Worker`` is what a worker process builds: its own database connection and its own
``VectorStoreLibrary`` over the same database file, blob dir and index dir.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from parley.providers.embedders import Embedder, Embeddings, local_embedder
from parley.retrieval.chunking import ChunkingStrategy
from parley.retrieval.embedded_index import open_index
from parley.retrieval.library import FileSpec, VectorStoreLibrary
from parley.retrieval.store_index import EmbeddedIndexes
from parley.storage.blobs import BlobStore
from parley.storage.library import FileRecord, VectorStoreFileRecord, VectorStoreRecord
from parley.storage.sqlite import Database, SqliteFileStore, SqliteVectorStoreStore

TEXT = "\n\n".join(
    f"Section {n}. The lighthouse keeper logged {n * 7} ships, storms on day {n} and a broken lamp."
    for n in range(400)
).encode()


class CountingEmbedder:
    """The real local model, counting the texts it embeds and holding calls back while ``gate`` is clear."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.texts, self.gate = inner, 0, asyncio.Event()
        self.gate.set()

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    async def embed(self, texts: Sequence[str]) -> Embeddings:
        self.texts += len(texts)
        await self.gate.wait()
        return await self.inner.embed(texts)

    async def aclose(self) -> None:
        pass


@dataclass
class Worker:
    database: Database
    library: VectorStoreLibrary
    embedder: CountingEmbedder


@pytest.fixture
def model() -> Embedder:
    return local_embedder()


@pytest.fixture
async def workers(tmp_path: Path, model: Embedder) -> AsyncIterator[list[Worker]]:
    made: list[Worker] = []
    for lease in (3600.0, 0.3):  # the second worker's heartbeat runs every 0.1 s
        database, embedder = Database(tmp_path / "parley.db"), CountingEmbedder(model)
        stores, files = SqliteVectorStoreStore(database), SqliteFileStore(database)
        blobs, root = BlobStore(tmp_path / "files"), tmp_path / "vector_stores"
        library = VectorStoreLibrary(stores, files, blobs, [embedder], EmbeddedIndexes(root), lease=lease)
        made.append(Worker(database, library, embedder))
    yield made
    for worker in made:
        await worker.library.aclose()
        await worker.database.aclose()


async def upload(worker: Worker) -> tuple[VectorStoreRecord, FileRecord]:
    library = worker.library
    store = await library.create_store("alice", name="s", metadata={}, expires_after_days=None)
    source = io.BytesIO(TEXT)
    file = await library.add_file("alice", "log.txt", "assistants", source, limit=10**7, expires_in=None)
    return store, file


def in_progress(store: VectorStoreRecord, file: FileRecord) -> VectorStoreFileRecord:
    strategy = ChunkingStrategy().wire()
    return VectorStoreFileRecord(
        store.id, file.id, int(time.time()), "in_progress", {}, strategy, file.sha256
    )


async def status(worker: Worker, store: VectorStoreRecord, file: FileRecord) -> str:
    record = await worker.library.stores.get_file(store.id, file.id, "alice")
    assert record is not None
    return record.status


async def until_done(worker: Worker, store: VectorStoreRecord, file: FileRecord) -> None:
    for _ in range(600):
        if await status(worker, store, file) != "in_progress":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the file was never ingested")


async def test_a_file_uploaded_through_one_worker_is_ingested_by_it_alone(
    workers: list[Worker], tmp_path: Path
) -> None:
    a, b = workers
    store, file = await upload(a)
    a.embedder.gate.clear()  # a's ingestion stops at its embedding call, the file in progress
    await a.library.attach(store.id, "alice", [FileSpec(file.id, {})])
    await b.library.start()  # b takes over files nobody holds: not this one, which a holds
    await asyncio.sleep(0.5)  # several of b's heartbeats, each looking for files to take over
    assert await status(b, store, file) == "in_progress"
    a.embedder.gate.set()
    await until_done(a, store, file)
    assert await status(a, store, file) == "completed"
    assert b.embedder.texts == 0
    chunks = await b.library.file_chunks(store.id, file.id, "alice")
    assert chunks is not None
    assert len(chunks) == a.embedder.texts > 1
    index = open_index(tmp_path / "vector_stores" / store.id, a.embedder.dimension)
    assert index.count() == len(chunks)
    assert (tmp_path / "vector_stores" / store.id / "vectors.0.f32").stat().st_size == (
        len(chunks) * a.embedder.dimension * 4  # one vector per chunk: nobody ingested it twice
    )
    index.close()


async def test_a_dead_workers_file_is_taken_over_and_a_live_ones_is_not(workers: list[Worker]) -> None:
    a, b = workers
    store, dead_file = await upload(a)
    busy_file = await a.library.add_file(
        "alice", "busy.txt", "assistants", io.BytesIO(b"busy elsewhere"), limit=10**6, expires_in=None
    )
    stores = a.library.stores
    await stores.attach([in_progress(store, dead_file)], "alice", ("dead-worker", -1.0))  # lease ran out
    await stores.attach([in_progress(store, busy_file)], "alice", ("busy-worker", 3600.0))
    await b.library.start()
    await until_done(b, store, dead_file)
    assert await status(b, store, dead_file) == "completed"
    assert a.embedder.texts == 0
    assert b.embedder.texts > 1
    hits = await b.library.search([store.id], "alice", "lighthouse keeper broken lamp")
    assert {hit.file_id for hit in hits} == {dead_file.id}
    assert await status(b, store, busy_file) == "in_progress"  # its worker still renews its claim


async def test_the_heartbeat_takes_over_a_file_whose_worker_dies_later(workers: list[Worker]) -> None:
    a, b = workers
    store, file = await upload(a)
    await b.library.start()  # nothing to take over yet
    await a.library.stores.attach([in_progress(store, file)], "alice", ("doomed-worker", 0.2))
    await until_done(b, store, file)  # once the lease has run out, b's heartbeat takes it
    assert await status(b, store, file) == "completed"
    assert b.embedder.texts > 1

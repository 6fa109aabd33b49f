"""The vector-store service that the Files/Vector Stores APIs and the file_search tool call.

It keeps the invariants spanning rows, blobs and indexes in one place: a deleted file leaves every
store of its owner, a deleted store takes its index along, a file's status is the truth about its
chunks, and a store's queries use the embedding model of its vectors. Plain reads use ``stores``."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from parley.errors import InvalidRequest, NotFound, ServiceUnavailable
from parley.ids import new_id
from parley.providers.embedders import Embedder, RemoteEmbedder
from parley.retrieval.chunking import ChunkingStrategy
from parley.retrieval.index import Attributes
from parley.retrieval.index_pool import IndexPool
from parley.retrieval.ingest import LEASE, Ingestor, Job
from parley.retrieval.query import SearchOptions, SearchResult, results, search_by_model
from parley.retrieval.store_index import IndexOpener, StoreIndex
from parley.storage.blobs import Blobs
from parley.storage.library import (
    FileBatchRecord,
    FileRecord,
    FileStore,
    VectorStoreFileRecord,
    VectorStoreRecord,
    VectorStoreStore,
)


@dataclass(frozen=True)
class FileSpec:
    """One file to attach to a store, with its attributes and chunking."""

    file_id: str
    attributes: Attributes
    chunking: ChunkingStrategy = field(default_factory=ChunkingStrategy)


TOUCH_EVERY = 60
"""Seconds between the writes of a store's ``last_active_at`` while it is searched: expiry counts
in days, and a write per search cost a database round trip on every file_search."""


def store_not_found(store_id: str) -> NotFound:
    return NotFound(f"No vector store found with id '{store_id}'.", param="vector_store_id")


def file_not_found(file_id: str) -> NotFound:
    return NotFound(f"No such File object: {file_id}", param="file_id")


class VectorStoreLibrary:
    def __init__(
        self,
        stores: VectorStoreStore,
        files: FileStore,
        blobs: Blobs,
        embedders: Sequence[Embedder],
        indexes: IndexOpener,
        clock: Callable[[], float] = time.time,
        lease: float = LEASE,
    ) -> None:
        """``embedders[0]`` embeds new stores; the others serve stores created with their models;
        ``indexes`` holds their chunks (the data dir's embedded indexes, or PostgreSQL's)."""
        self.stores, self.files, self.blobs = stores, files, blobs
        self._embedders = {embedder.model: embedder for embedder in reversed(embedders)}
        self._default = embedders[0]
        self._clock = clock
        self._pool = IndexPool(indexes)
        self._ingestor = Ingestor(stores, files, blobs, self._pool, lease)
        self._resumed = False

    def now(self) -> int:
        return int(self._clock())

    async def add_file(
        self, owner: str, filename: str, purpose: str, source: BinaryIO, *, limit: int, expires_in: int | None
    ) -> FileRecord:
        """Store the bytes (413 over ``limit``) and their row together; the filename is metadata only."""
        now = self.now()
        staged = await self.blobs.stage(source, limit)
        expires_at = None if expires_in is None else now + expires_in
        record = FileRecord(new_id("file"), filename, staged.size, purpose, now, expires_at, staged.sha256)
        try:
            async with self.blobs.locks.hold(staged.sha256):
                await self.blobs.commit(staged)
                await self.files.add(record, owner)
        finally:
            await self.blobs.discard(staged)  # already stored unless something failed
        return record

    async def delete_file(self, file_id: str, owner: str) -> bool:
        """Detach the file from every store of its owner first, then drop the row and unused bytes."""
        if (found := await self.files.get(file_id, owner)) is None:
            return False
        for store_id in await self.stores.stores_of_file(file_id, owner):
            await self.detach(store_id, file_id, owner)
        async with self.blobs.locks.hold(found.sha256):
            deleted = await self.files.delete(file_id, owner)
            if deleted is not None and not await self.files.sha256_in_use(deleted.sha256):
                await self.blobs.delete(deleted.sha256)
        return deleted is not None

    async def create_store(
        self,
        owner: str,
        *,
        name: str,
        metadata: dict[str, str],
        expires_after_days: int | None,
        files: Sequence[FileSpec] = (),
    ) -> VectorStoreRecord:
        """A new store embedded with the default model; an unknown file refuses it before anything is made."""
        await self._files_of(files, owner)
        now = self.now()
        embedder = self._default
        dimension = await _dimension(embedder)
        record = VectorStoreRecord(
            new_id("vs"), name, now, now, metadata, expires_after_days, embedder.model, dimension
        )
        await self.stores.create(record, owner)
        if files:
            await self.attach(record.id, owner, files)
        return await self.store(record.id, owner)

    async def store(self, store_id: str, owner: str) -> VectorStoreRecord:
        await self.start()
        record = await self.stores.get(store_id, owner)
        if record is None:
            raise store_not_found(store_id)
        return record

    async def delete_store(self, store_id: str, owner: str) -> bool:
        if not await self.stores.delete(store_id, owner):
            return False
        await self._pool.drop(store_id)
        return True

    async def attach(
        self, store_id: str, owner: str, specs: Sequence[FileSpec], *, batch_id: str | None = None
    ) -> list[VectorStoreFileRecord]:
        """Record each file ``in_progress`` and queue its ingestion; returns without waiting for it."""
        store = await self.store(store_id, owner)
        embedder = self._embedder(store.embedding_model)
        found = await self._files_of(specs, owner)
        now = self.now()
        records = [
            VectorStoreFileRecord(
                store_id,
                spec.file_id,
                now,
                "in_progress",
                spec.attributes,
                spec.chunking.wire(),
                found[spec.file_id].sha256,
                batch_id=batch_id,
            )
            for spec in specs
        ]
        await self.stores.attach(records, owner, self._ingestor.claim)  # ingested here, by this worker
        await self.stores.touch(store_id, owner, now)
        self._ingestor.submit([Job(owner, r, embedder, store.embedding_dimension) for r in records])
        return records

    async def create_batch(self, store_id: str, owner: str, specs: Sequence[FileSpec]) -> FileBatchRecord:
        await self.store(store_id, owner)
        batch = FileBatchRecord(new_id("vsfb"), store_id, self.now(), cancelled=False)
        await self.stores.create_batch(batch, owner)
        await self.attach(store_id, owner, specs, batch_id=batch.id)
        found = await self.stores.get_batch(store_id, batch.id, owner)
        assert found is not None
        return found

    async def detach(self, store_id: str, file_id: str, owner: str) -> bool:
        """Drop the membership and the file's chunks; the File itself stays."""
        store = await self.store(store_id, owner)
        if not await self.stores.detach(store_id, file_id, owner):
            return False
        index = await self._pool.get(store_id, store.embedding_dimension)
        await index.delete_file(file_id)
        return True

    async def set_attributes(
        self, store_id: str, file_id: str, owner: str, attributes: Attributes
    ) -> VectorStoreFileRecord | None:
        """New attributes apply to the file's chunks at once, so filters see them in the next search."""
        store = await self.store(store_id, owner)
        record = await self.stores.set_attributes(store_id, file_id, owner, attributes)
        if record is not None:
            index = await self._pool.get(store_id, store.embedding_dimension)
            await index.update_attributes(file_id, attributes)
        return record

    async def file_chunks(self, store_id: str, file_id: str, owner: str) -> list[str] | None:
        """The indexed text of one file in position order; None when the file is not in the store."""
        store = await self.store(store_id, owner)
        if await self.stores.get_file(store_id, file_id, owner) is None:
            return None
        index = await self._pool.get(store_id, store.embedding_dimension)
        return [chunk.text for chunk in await index.chunks_of(file_id)]

    async def search(
        self,
        store_ids: list[str],
        owner: str,
        query: str | list[str],
        options: SearchOptions | None = None,
    ) -> list[SearchResult]:
        """Best chunks across ``store_ids`` (404 for any the owner cannot see); a list query is
        searched as its lines joined. Searching counts as activity for the stores' expiry."""
        text = query if isinstance(query, str) else "\n".join(query)
        groups: dict[str, list[StoreIndex]] = {}
        now = self.now()
        for store_id in dict.fromkeys(store_ids):
            store = await self.store(store_id, owner)
            if store.expired(now):
                raise InvalidRequest(f"Vector store '{store_id}' has expired.", code="vector_store_expired")
            groups.setdefault(store.embedding_model, []).append(
                await self._pool.get(store_id, store.embedding_dimension)
            )
            if now - store.last_active_at >= TOUCH_EVERY:
                await self.stores.touch(store_id, owner, now)
        hits = await search_by_model(groups, self._embedder, text, options or SearchOptions())
        return results(hits, await self.files.get_many(list({hit.chunk.file_id for hit in hits}), owner))

    async def add_path(
        self, owner: str, path: Path, store_id: str, attributes: Attributes | None = None
    ) -> tuple[VectorStoreFileRecord, bool]:
        """Upload and attach a local file unless the store already holds its bytes (by sha256).

        Returns (record, queued). Skipping what is already there makes a repeated bulk ingest
        (``parley ingest``) resume where the last one stopped; ``wait_idle`` waits for the rest.
        """
        sha256 = await asyncio.to_thread(_sha256_of, path)
        existing = await self.stores.find_file_by_sha256(store_id, sha256, owner)
        if existing is not None and existing.status in ("completed", "in_progress"):
            return existing, False
        same = await self.files.find_by_sha256(sha256, owner)
        if not same:
            with path.open("rb") as source:
                same = [
                    await self.add_file(owner, path.name, "assistants", source, limit=2**62, expires_in=None)
                ]
        [record] = await self.attach(store_id, owner, [FileSpec(same[0].id, attributes or {})])
        return record, True

    async def wait_idle(self) -> None:
        """Until every queued file has been ingested (or failed)."""
        await self._ingestor.wait_idle()

    async def aclose(self) -> None:
        """Stop ingestion (rows left ``in_progress`` resume on the next start), then close indexes."""
        await self._ingestor.aclose()
        await self._pool.close_all()
        for embedder in {id(e): e for e in self._embedders.values()}.values():
            await embedder.aclose()

    async def _files_of(self, specs: Sequence[FileSpec], owner: str) -> dict[str, FileRecord]:
        found = await self.files.get_many([spec.file_id for spec in specs], owner)
        missing = [spec.file_id for spec in specs if spec.file_id not in found]
        if missing:
            raise file_not_found(missing[0])
        return found

    def _embedder(self, model: str) -> Embedder:
        embedder = self._embedders.get(model)
        if embedder is None:
            raise ServiceUnavailable(
                f"This vector store was embedded with '{model}', which this server is not configured for "
                "(set PARLEY_EMBEDDING_MODEL / PARLEY_EMBEDDING_URL)."
            )
        return embedder

    async def start(self) -> None:
        """Once per process: take over the files ``in_progress`` no live worker holds (a previous run
        or a dead worker left them), and keep doing so now and then (also run lazily)."""
        if not self._resumed:
            self._resumed = True
            await self._ingestor.resume(self._embedders.get)


async def _dimension(embedder: Embedder) -> int:
    """A remote model's dimension may be unknown until it has answered once."""
    if isinstance(embedder, RemoteEmbedder):
        return await embedder.learn_dimension()
    return embedder.dimension


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()

"""Background ingestion: file bytes -> text -> chunks -> vectors -> a store's index.

Two stages joined by a small queue keep the embedder busy: ``_prepare_loop`` parses and chunks
files in worker threads (several at once) while ``_embed_loop`` embeds what is ready, batching
the chunks of many files into each embed call. A file's row leaves ``in_progress`` only after its
chunks are in the index, so a ``completed`` status is never ahead of search. The queue is only a
cache of the database: rows left ``in_progress`` (e.g. by a restart) are queued again on start.

Several worker processes may share the database. Each file ``in_progress`` is claimed by the one
that ingests it (``VectorStoreStore.claim_unfinished``): the worker that accepts an upload claims
it at once, a heartbeat renews this worker's claims every ``lease / 3`` seconds, and the same
heartbeat takes over files whose claim ran out (their worker died) or that nobody holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from parley.errors import ParleyError, ServiceUnavailable
from parley.providers.embedders import Embedder
from parley.retrieval.chunking import ChunkingStrategy, TextChunk, chunk_text, parse_chunking_strategy
from parley.retrieval.index import Chunk, StoreGone, Vectors
from parley.retrieval.index_pool import IndexPool
from parley.retrieval.parsing import UnparseableFile, extract_text
from parley.storage.background import Claim
from parley.storage.blobs import Blobs
from parley.storage.library import FileStore, VectorStoreFileRecord, VectorStoreStore
from parley.storage.processes import instance_name

log = logging.getLogger(__name__)

EMBED_BATCH = 256
"""Chunks per embed call: large enough to amortize a call, small enough to stream big files."""
PARSE_CONCURRENCY = 4
READY_GROUPS = 2
LEASE = 30.0
"""Seconds a claim on a file lasts without a heartbeat; then another worker takes the file over."""
EmbedderFor = Callable[[str], Embedder | None]


@dataclass(frozen=True)
class Job:
    owner: str
    file: VectorStoreFileRecord
    embedder: Embedder
    dimension: int
    generation: int = 0
    """Set by ``submit``: only the newest job for a (store, file) may write its outcome."""


@dataclass
class Prepared:
    job: Job
    chunks: list[TextChunk] = field(default_factory=list)
    error: dict[str, str] | None = None


class Ingestor:
    """Owns the ingestion tasks; ``submit`` returns at once, ``aclose`` cancels what is running."""

    def __init__(
        self,
        stores: VectorStoreStore,
        files: FileStore,
        blobs: Blobs,
        pool: IndexPool,
        lease: float = LEASE,
    ) -> None:
        self._stores, self._files, self._blobs, self.pool = stores, files, blobs, pool
        self.claim: Claim = (instance_name(), lease)
        """This worker, and the lease of its claims: pass it to ``attach`` with the files submitted."""
        self._heartbeat: asyncio.Task[None] | None = None
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._ready: asyncio.Queue[list[Prepared]] = asyncio.Queue(READY_GROUPS)
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._pending = 0
        self._latest: dict[tuple[str, str], int] = {}
        self._closed = False

    def submit(self, jobs: Sequence[Job]) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._prepare_loop(), name="parley-ingest-prepare"),
                asyncio.create_task(self._embed_loop(), name="parley-ingest-embed"),
            ]
        for job in jobs:
            key = (job.file.vector_store_id, job.file.file_id)
            self._latest[key] = self._latest.get(key, 0) + 1
            self._pending += 1
            self._idle.clear()
            self._jobs.put_nowait(replace(job, generation=self._latest[key]))

    async def resume(self, embedder_for: EmbedderFor) -> None:
        """Take over the files ``in_progress`` that no live worker holds (a restart or a dead worker
        left them), then keep renewing this worker's claims and taking over such files."""
        await self._take_over(embedder_for)
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(embedder_for), name="parley-ingest-heartbeat")

    async def _take_over(self, embedder_for: EmbedderFor) -> None:
        """Claim and queue the unheld files; fail those whose model is gone."""
        worker, lease = self.claim
        jobs: list[Job] = []
        for owner, record in await self._stores.claim_unfinished(worker, lease):
            store = await self._stores.get(record.vector_store_id, owner)
            embedder = None if store is None else embedder_for(store.embedding_model)
            if store is None or embedder is None:
                error = {"code": "server_error", "message": "The store's embedding model is not configured."}
                await self._stores.finish_file(
                    replace(record, status="failed", last_error=error), owner, worker
                )
                continue
            jobs.append(Job(owner, record, embedder, store.embedding_dimension))
        self.submit(jobs)

    async def _beat(self, embedder_for: EmbedderFor) -> None:
        worker, lease = self.claim
        while True:
            await asyncio.sleep(lease / 3)
            try:
                await self._stores.renew_claims(worker, lease)
                await self._take_over(embedder_for)
            except Exception:  # a store hiccup must not stop the heartbeat; the next beat retries
                log.exception("renewing the ingestion claims of %s failed", worker)

    async def wait_idle(self) -> None:
        """Until every submitted file has finished (for bulk ingestion and tests)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Stop, and give up this worker's claims so another worker (or the next start) resumes
        its unfinished files at once instead of after the lease."""
        if self._closed:  # a second shutdown: the database may be closed by now
            return
        self._closed = True
        tasks = [*self._tasks, *([self._heartbeat] if self._heartbeat else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks, self._heartbeat = [], None
        try:
            await self._stores.release_claims(self.claim[0])
        except ParleyError as exc:  # a database lost at shutdown: the claims' leases run out instead
            log.warning("could not give up ingestion claims: %s", exc)

    async def _prepare_loop(self) -> None:
        while True:
            jobs = [await self._jobs.get()]
            while not self._jobs.empty() and len(jobs) < 8 * PARSE_CONCURRENCY:
                jobs.append(self._jobs.get_nowait())
            limit = asyncio.Semaphore(PARSE_CONCURRENCY)
            await self._ready.put(list(await asyncio.gather(*(self._prepare(job, limit) for job in jobs))))

    async def _prepare(self, job: Job, limit: asyncio.Semaphore) -> Prepared:
        record = job.file
        found = await self._files.get(record.file_id, job.owner)
        if found is None:
            return Prepared(job, error={"code": "invalid_file", "message": "The file was deleted."})
        strategy = parse_chunking_strategy(record.chunking_strategy)
        async with limit:
            try:
                data = await self._blobs.read(found.sha256)
                chunks = await asyncio.to_thread(_parse, data, found.filename, strategy)
            except UnparseableFile as exc:
                return Prepared(job, error={"code": exc.code, "message": str(exc)})
            except (FileNotFoundError, ServiceUnavailable) as exc:  # the bytes are gone, or unreachable
                log.warning("could not read the bytes of %s: %s", record.file_id, exc)
                message = f"The file's contents could not be read: {_reason(exc)}"
                return Prepared(job, error={"code": "server_error", "message": message})
            except Exception:  # a parser bug must fail this file, not the pipeline
                log.exception("ingesting %s into %s failed", record.file_id, record.vector_store_id)
                return Prepared(
                    job, error={"code": "server_error", "message": "The file could not be processed."}
                )
        if not chunks:
            message = "The file contains no text to index."
            return Prepared(job, error={"code": "invalid_file", "message": message})
        return Prepared(job, chunks)

    async def _embed_loop(self) -> None:
        while True:
            group = await self._ready.get()
            while not self._ready.empty() and sum(len(p.chunks) for p in group) < EMBED_BATCH:
                group += self._ready.get_nowait()
            try:
                await self._embed_group(group)
            finally:
                self._pending -= len(group)
                if self._pending == 0:
                    self._idle.set()

    async def _embed_group(self, group: list[Prepared]) -> None:
        """Embed every ready chunk, one embedder at a time, in calls of up to EMBED_BATCH texts."""
        by_embedder: dict[int, list[Prepared]] = {}
        for item in group:
            if item.error is None:
                by_embedder.setdefault(id(item.job.embedder), []).append(item)
            else:
                await self._finish(item, None)
        for items in by_embedder.values():
            texts = [chunk.text for item in items for chunk in item.chunks]
            try:
                vectors = await _embed(items[0].job.embedder, texts)
            except Exception:  # the embedder failed: these files fail, later ones may succeed
                log.exception("embedding %d chunks failed", len(texts))
                for item in items:
                    item.error = {"code": "server_error", "message": "Embedding the file failed."}
                    await self._finish(item, None)
                continue
            start = 0
            for item in items:
                await self._finish(item, vectors[start : start + len(item.chunks)])
                start += len(item.chunks)

    async def _finish(self, item: Prepared, vectors: Vectors | None) -> None:
        """Write the outcome unless a newer attach of the same file superseded this job."""
        job = item.job
        key = (job.file.vector_store_id, job.file.file_id)
        if self._latest.get(key) != job.generation:
            return
        try:
            if vectors is None:
                failed = replace(job.file, status="failed", last_error=item.error)
                await self._stores.finish_file(failed, job.owner, self.claim[0])
            else:
                await self._complete(job, item.chunks, vectors)
        except StoreGone:
            pass
        finally:
            if self._latest.get(key) == job.generation:
                del self._latest[key]

    async def _complete(self, job: Job, texts: list[TextChunk], vectors: Vectors) -> None:
        """Index the chunks with the file's attributes as they are now (they may have changed)."""
        record = await self._stores.get_file(job.file.vector_store_id, job.file.file_id, job.owner)
        if record is None or record.status != "in_progress":  # detached or cancelled meanwhile
            return
        index = await self.pool.get(record.vector_store_id, job.dimension)
        chunks = _chunks(record, texts)
        await index.replace_file(record.file_id, chunks, vectors)
        usage = sum(len(c.text.encode()) for c in chunks) + vectors.nbytes
        done = replace(record, status="completed", last_error=None, usage_bytes=usage)
        if await self._stores.finish_file(done, job.owner, self.claim[0]):
            return
        now = await self._stores.get_file(record.vector_store_id, record.file_id, job.owner)
        if now is None or now.status not in ("in_progress", "completed"):  # detached or cancelled just now
            await index.delete_file(record.file_id)
        # else another worker holds the file now (it took it over, or it was attached again there):
        # its chunks are the ones that count, and deleting here could remove them


def _parse(data: bytes, filename: str, strategy: ChunkingStrategy) -> list[TextChunk]:
    return chunk_text(extract_text(data, filename), strategy)


async def _embed(embedder: Embedder, texts: list[str]) -> Vectors:
    parts = [await embedder.embed(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)]
    return np.concatenate(parts).astype(np.float32, copy=False)


def _reason(exc: FileNotFoundError | ServiceUnavailable) -> str:
    return exc.message if isinstance(exc, ServiceUnavailable) else "they are no longer stored."


def _chunks(record: VectorStoreFileRecord, texts: list[TextChunk]) -> list[Chunk]:
    return [
        Chunk(f"{record.file_id}:{n}", record.file_id, n, t.text, dict(record.attributes), t.token_count)
        for n, t in enumerate(texts)
    ]

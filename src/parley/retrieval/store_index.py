"""The seam between the vector-store service and where a store's chunks live.

The service (ingestion, the file_search tool, the search endpoint) awaits a ``StoreIndex`` per
store. Two stand behind it: the embedded index in the data dir (``EmbeddedStore``, its
CPU-bound work run on a thread) and PostgreSQL's (``pgvector_index``), whose work is the
database's. A whole per-store search is one call, so each can do it in one hop: one thread for
the embedded index, and for PostgreSQL its two rankings at once.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from parley.retrieval.embedded_index import EmbeddedIndex, open_index
from parley.retrieval.filters import Filter
from parley.retrieval.fusion import Fusion, search_store
from parley.retrieval.index import Attributes, Chunk, Hit, SearchMode, Vectors


@dataclass(frozen=True)
class StoreQuery:
    """One store's part of a search: its top ``k`` in ``mode`` (``vector`` is None in keyword mode)."""

    vector: Vectors | None
    text: str
    k: int
    filter: Filter | None = None
    mode: SearchMode = "hybrid"
    fusion: Fusion = field(default_factory=Fusion)


class StoreIndex(Protocol):
    """The chunks of ONE vector store, as the service uses them."""

    dimension: int

    async def replace_file(self, file_id: str, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        """The file's chunks become ``chunks`` at once (a re-attached file is not doubled); raises
        ``StoreGone`` when the store was deleted meanwhile."""

    async def delete_file(self, file_id: str) -> int:
        """Remove the file's chunks from both searches; how many were removed."""

    async def update_attributes(self, file_id: str, attributes: Attributes) -> None: ...

    async def search(self, query: StoreQuery) -> list[Hit]: ...

    async def chunks_of(self, file_id: str) -> list[Chunk]:
        """The file's chunks in position order (for the file content endpoint)."""

    async def count(self) -> int: ...

    async def close(self) -> None: ...


class IndexOpener(Protocol):
    """Where a process's store indexes come from (``IndexPool`` keeps them open)."""

    async def open(self, store_id: str, dimension: int) -> StoreIndex: ...

    async def remove(self, store_id: str) -> None:
        """After the store's row was deleted: whatever of its index outlives the row."""


class EmbeddedStore:
    """An ``EmbeddedIndex`` awaited: each call is one hop to a thread."""

    def __init__(self, index: EmbeddedIndex) -> None:
        self.index = index
        self.dimension = index.dimension

    async def replace_file(self, file_id: str, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        await asyncio.to_thread(self._replace, file_id, chunks, vectors)

    def _replace(self, file_id: str, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        self.index.delete_file(file_id)
        self.index.add(chunks, vectors)

    async def delete_file(self, file_id: str) -> int:
        return await asyncio.to_thread(self.index.delete_file, file_id)

    async def update_attributes(self, file_id: str, attributes: Attributes) -> None:
        await asyncio.to_thread(self.index.update_attributes, file_id, attributes)

    async def search(self, query: StoreQuery) -> list[Hit]:
        return await asyncio.to_thread(
            search_store, self.index, query.vector, query.text, query.k, query.filter,
            mode=query.mode, fusion=query.fusion,
        )  # fmt: skip

    async def chunks_of(self, file_id: str) -> list[Chunk]:
        return await asyncio.to_thread(self.index.chunks_of, file_id)

    async def count(self) -> int:
        return await asyncio.to_thread(self.index.count)

    async def close(self) -> None:
        await asyncio.to_thread(self.index.close)


class EmbeddedIndexes:
    """Each store's embedded index in a directory of its own under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def open(self, store_id: str, dimension: int) -> StoreIndex:
        return EmbeddedStore(await asyncio.to_thread(open_index, self.root / store_id, dimension))

    async def remove(self, store_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.root / store_id, True)

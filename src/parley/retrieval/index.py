"""A vector store's chunks and what a search of them returns, wherever they are stored.

One ``ChunkIndex`` holds the chunks of one vector store in this process: a vector per chunk for
approximate nearest-neighbour search and the chunk text for keyword search, each chunk carrying
its file's attributes so filters can be applied inside either search. ``embedded_index`` is the
server-less one; the service reaches it, or PostgreSQL's, through ``store_index.StoreIndex``.

Methods are synchronous because the work is CPU-bound; callers run them via
``asyncio.to_thread``. Implementations must therefore be thread-safe: a search may run while
another thread is ingesting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from parley.retrieval.filters import Filter

Attributes: TypeAlias = dict[str, str | float | bool]
Vectors: TypeAlias = npt.NDArray[np.float32]
SearchMode = Literal["vector", "keyword", "hybrid"]


@dataclass(frozen=True)
class Chunk:
    id: str  # unique within the vector store, e.g. f"{file_id}:{n}"
    file_id: str
    position: int  # n-th chunk of the file
    text: str
    attributes: Attributes  # the vector-store file's attributes, copied at index time
    token_count: int


@dataclass(frozen=True)
class Hit:
    """A chunk and how well it matched; higher is better, always within [0, 1].

    vector: cosine similarity clipped to [0, 1]; keyword: bm25 squashed into (0, 1) by
    ``x / (1 + x)`` so scores from different stores stay comparable; hybrid: the fused score.
    """

    chunk: Chunk
    score: float


class StoreGone(Exception):
    """The vector store was deleted while one of its files was being ingested."""


class ChunkIndex(Protocol):
    """The chunks of ONE vector store: vectors for ANN search and text for keyword search."""

    dimension: int

    def add(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        """Index ``chunks``; ``vectors`` is float32 (len(chunks), dimension), L2-normalized."""
        ...

    def delete_file(self, file_id: str) -> int:
        """Remove the file's chunks from both searches; returns how many were removed."""
        ...

    def update_attributes(self, file_id: str, attributes: Attributes) -> None: ...

    def vector_search(self, vector: Vectors, k: int, filter: Filter | None) -> list[Hit]: ...

    def keyword_search(self, text: str, k: int, filter: Filter | None) -> list[Hit]: ...

    def chunks_of(self, file_id: str) -> list[Chunk]:
        """The file's chunks in position order (for the file content endpoint)."""
        ...

    def file_ids(self) -> set[str]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...

"""The open indexes of one process: one ``ChunkIndex`` per vector store, opened on first use.

Other processes may hold the same stores open; each index follows their writes itself (see
``embedded_index``).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from parley.retrieval.embedded_index import open_index
from parley.retrieval.index import ChunkIndex


class StoreGone(Exception):
    """The vector store was deleted while one of its files was being ingested."""


class IndexPool:
    """One open ``ChunkIndex`` per vector store, opened on first use and closed on ``close_all``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._open: dict[str, ChunkIndex] = {}
        self._gone: set[str] = set()
        self._lock = asyncio.Lock()

    async def get(self, store_id: str, dimension: int) -> ChunkIndex:
        async with self._lock:
            if store_id in self._gone:
                raise StoreGone(store_id)
            index = self._open.get(store_id)
            if index is None:
                index = await asyncio.to_thread(open_index, self.root / store_id, dimension)
                self._open[store_id] = index
            return index

    async def drop(self, store_id: str) -> None:
        """Close and delete a deleted store's index; later ``get`` calls for it fail."""
        async with self._lock:
            self._gone.add(store_id)
            index = self._open.pop(store_id, None)
            if index is not None:
                await asyncio.to_thread(index.close)
            await asyncio.to_thread(shutil.rmtree, self.root / store_id, True)

    async def close_all(self) -> None:
        async with self._lock:
            for index in self._open.values():
                await asyncio.to_thread(index.close)
            self._open.clear()

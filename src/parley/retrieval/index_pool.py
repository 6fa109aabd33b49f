"""The open indexes of one process: one ``StoreIndex`` per vector store, opened on first use.

Other processes may hold the same stores open; each index follows their writes itself (see
``embedded_index``; PostgreSQL's are the database's rows).
"""

from __future__ import annotations

import asyncio

from parley.retrieval.index import StoreGone
from parley.retrieval.store_index import IndexOpener, StoreIndex


class IndexPool:
    """One open ``StoreIndex`` per vector store, opened on first use and closed on ``close_all``."""

    def __init__(self, opener: IndexOpener) -> None:
        self.opener = opener
        self._open: dict[str, StoreIndex] = {}
        self._gone: set[str] = set()
        self._lock = asyncio.Lock()

    async def get(self, store_id: str, dimension: int) -> StoreIndex:
        async with self._lock:
            if store_id in self._gone:
                raise StoreGone(store_id)
            index = self._open.get(store_id)
            if index is None:
                index = await self.opener.open(store_id, dimension)
                self._open[store_id] = index
            return index

    async def drop(self, store_id: str) -> None:
        """Close and remove a deleted store's index; later ``get`` calls for it fail."""
        async with self._lock:
            self._gone.add(store_id)
            index = self._open.pop(store_id, None)
            if index is not None:
                await index.close()
            await self.opener.remove(store_id)

    async def close_all(self) -> None:
        async with self._lock:
            for index in self._open.values():
                await index.close()
            self._open.clear()

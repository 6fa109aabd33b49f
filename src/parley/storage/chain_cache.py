"""Recent ``previous_response_id`` chains kept in memory, in front of any ResponseStore.

A conversation usually continues the response it just got. Keeping each
stored response's full context (its history, input and output, as references
to the same item objects) makes turn N as cheap as turn 1: no query and no JSON
parsing. Misses fall through to the store's indexed chain query, so a cold
cache or a restart only costs that one read.

Stored responses never change once written, so entries only go stale through a
delete; a delete clears the cache. Processes sharing a store share a count of
deletes (``Deletes``): a delete bumps it before its answer goes out, and every
cache that finds it moved clears itself before it answers, so no process serves
a chain another has deleted. One machine's workers read it from a mapped file
(``MappedDeletes``, a memory read); replicas sharing PostgreSQL from the database
(``postgres/deletes.py``, a round trip, still far less than reading and decoding
a long chain).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

from parley.storage.base import Item, ResponseStore
from parley.storage.delegating import DelegatingResponseStore
from parley.storage.shared_counter import SharedCounter


class Deletes(Protocol):
    """How many responses were ever deleted, as every process sharing the store counts them."""

    async def read(self) -> int: ...

    async def bump(self) -> int:
        """Count one more; the new count."""

    async def aclose(self) -> None: ...


class MappedDeletes:
    """The count in a file of the data dir, mapped by each of one machine's workers."""

    def __init__(self, counter: SharedCounter) -> None:
        self._counter = counter

    async def read(self) -> int:
        return self._counter.value()

    async def bump(self) -> int:
        return self._counter.bump()

    async def aclose(self) -> None:
        self._counter.close()


class ChainCache(DelegatingResponseStore):
    def __init__(self, inner: ResponseStore, capacity: int = 2048, deletes: Deletes | None = None) -> None:
        super().__init__(inner)
        self._capacity = capacity
        self._chains: OrderedDict[tuple[str, str], list[Item]] = OrderedDict()
        self._deletes = deletes
        self._deletes_seen: int | None = None
        """The count the cached chains were read at; None before the first look."""

    async def _forget_if_deleted_elsewhere(self) -> None:
        if self._deletes is not None and (seen := await self._deletes.read()) != self._deletes_seen:
            self._chains.clear()
            self._deletes_seen = seen

    async def save(
        self,
        response: dict[str, Any],
        input_items: list[Item],
        owner: str,
        conversation_id: str | None = None,
    ) -> None:
        await self._inner.save(response, input_items, owner, conversation_id)
        # Unchecked: a chain built here on one deleted meanwhile is cleared by the check that
        # every ``history`` makes before it serves anything (a round trip saved over PostgreSQL).
        previous = response["previous_response_id"]
        base = [] if previous is None else self._chains.get((owner, previous))
        if base is not None:
            self._remember((owner, response["id"]), [*base, *input_items, *response["output"]])

    def _remember(self, key: tuple[str, str], chain: list[Item]) -> None:
        self._chains[key] = chain
        self._chains.move_to_end(key)
        while len(self._chains) > self._capacity:
            self._chains.popitem(last=False)

    async def history(self, response_id: str, owner: str) -> list[Item] | None:
        await self._forget_if_deleted_elsewhere()
        cached = self._chains.get((owner, response_id))
        if cached is not None:
            self._chains.move_to_end((owner, response_id))
            return list(cached)
        found = await self._inner.history(response_id, owner)
        if found is not None:
            self._remember((owner, response_id), found)
        return None if found is None else list(found)

    async def delete(self, response_id: str, owner: str) -> bool:
        deleted = await self._inner.delete(response_id, owner)
        if deleted and self._deletes is not None:
            self._deletes_seen = await self._deletes.bump()  # others' caches: before the answer goes out
        self._chains.clear()  # descendants' cached chains include the deleted items; deletes are rare
        return deleted

    async def aclose(self) -> None:
        self._chains.clear()
        if self._deletes is not None:
            await self._deletes.aclose()
        await self._inner.aclose()

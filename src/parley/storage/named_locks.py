"""Named locks held in this process and, where other processes share the database, in it too.

A conversation's lock (``engine/conversation.py``) and a blob's (``blob_locks.py``) are each an
asyncio lock in this process and, with ``shared``, also the database's lock of that name
(``locks.py``), held by ``holder``. A holder that died holding a lock is found so and the lock
taken back, as nothing else would free it: on this machine from its pid
(``processes.process_alive``), on another from its heartbeats (``heartbeats.py``) once it was heard
from and then went silent. A holder may add ``#suffix`` to its process's name (two servers built in
one process, as tests do, then never take one hold for their own).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from parley.storage.heartbeats import Heartbeats
from parley.storage.locks import Locks
from parley.storage.processes import process_alive

EVER = 10.0 * 365 * 86400
"""Seconds since a beat that count as never having beaten."""
MAX_DELAY = 0.1
"""Seconds between tries at a lock another process holds, at most."""


class NamedLocks:
    def __init__(
        self, shared: Locks | None = None, holder: str | None = None, heartbeats: Heartbeats | None = None
    ) -> None:
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}
        self._shared, self._holder, self._heartbeats = shared, holder, heartbeats

    @asynccontextmanager
    async def hold(self, name: str, wait: float, busy: Callable[[], Exception]) -> AsyncIterator[None]:
        """Hold ``name``, waiting at most ``wait`` seconds in all, then raising ``busy()``."""
        lock, users = self._local.get(name, (asyncio.Lock(), 0))
        self._local[name] = (lock, users + 1)
        deadline = asyncio.get_running_loop().time() + wait
        try:
            try:
                await asyncio.wait_for(lock.acquire(), wait)
            except TimeoutError:
                raise busy() from None
            try:
                async with self._held_across_processes(name, deadline, busy):
                    yield
            finally:
                lock.release()
        finally:
            lock, users = self._local[name]
            if users == 1:
                del self._local[name]
            else:
                self._local[name] = (lock, users - 1)

    @asynccontextmanager
    async def _held_across_processes(
        self, name: str, deadline: float, busy: Callable[[], Exception]
    ) -> AsyncIterator[None]:
        if self._shared is None or self._holder is None:
            yield
            return
        delay = 0.005
        while (holder := await self._shared.take(name, self._holder)) != self._holder:
            if await self._dead(holder):
                await self._shared.release(name, holder)
                continue
            if asyncio.get_running_loop().time() + delay > deadline:
                raise busy()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
        try:
            yield
        finally:
            await self._shared.release(name, self._holder)

    async def _dead(self, holder: str) -> bool:
        process = holder.split("#", 1)[0]
        if not process_alive(process):
            return True
        if self._heartbeats is None:
            return False
        silent = await self._heartbeats.silent([process])
        return bool(silent) and not await self._heartbeats.silent([process], after=EVER)

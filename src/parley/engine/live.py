"""Responses still running, so ``GET /v1/responses/{id}`` can show them.

A stored response is written once, when it ends; until then this registry answers for it with a
snapshot (``status: in_progress`` and the output so far). With several worker processes on one
data dir (``parley serve --workers N``), a process also writes each response's row as it begins,
marked as its own (``ResponseStore.begin``), so every worker sees it at once; its end replaces the
row. A worker that dies leaves its rows marked: the next process to start settles them as failed.
Replicas on several machines over PostgreSQL also beat (``storage/heartbeats.py``), and each
settles, every few seconds, the rows of any replica gone silent (``Liveness``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from parley.errors import ParleyError
from parley.storage.base import ResponseStore
from parley.storage.heartbeats import BEAT_EVERY, Heartbeats
from parley.storage.processes import process_alive

log = logging.getLogger(__name__)

Snapshot = Callable[[], dict[str, Any]]

WORKER_DIED = "The server process running this response stopped before it finished."


class LiveResponses:
    def __init__(self, worker: str | None = None) -> None:
        self._live: dict[str, tuple[str, Snapshot]] = {}
        self.worker = worker
        """This process, when others share its store (``storage/processes.this_process``); None when it
        is alone."""

    def add(self, response_id: str, owner: str, snapshot: Snapshot) -> None:
        """``snapshot`` gives the response as it stands (its open items with what they said so far)."""
        self._live[response_id] = (owner, snapshot)

    def discard(self, response_id: str) -> None:
        self._live.pop(response_id, None)

    def get(self, response_id: str, owner: str) -> dict[str, Any] | None:
        found = self._live.get(response_id)
        if found is None or found[0] != owner:
            return None
        return found[1]()


async def settle_dead_workers(store: ResponseStore, heartbeats: Heartbeats | None = None) -> int:
    """Responses a dead worker left running, stored as failed, with the reason; how many. A worker
    on this machine is dead when its process is; one elsewhere when it has gone silent."""
    running = await store.running()
    silent = (
        await heartbeats.silent({worker for _, _, worker in running}) if heartbeats and running else set()
    )
    settled = 0
    for response_id, owner, worker in running:
        if process_alive(worker) and worker not in silent:
            continue
        stored = await store.get(response_id, owner)
        if stored is not None:
            error = {"code": "server_error", "message": WORKER_DIED}
            await store.save({**stored, "status": "failed", "error": error}, [], owner)
            settled += 1
    return settled


class Liveness:
    """This process's heartbeat, and the settling of what silent replicas left, every few seconds."""

    def __init__(self, store: ResponseStore, heartbeats: Heartbeats, process: str) -> None:
        self._store, self._heartbeats, self._process = store, heartbeats, process

    async def once(self) -> int:
        await self._heartbeats.beat(self._process)
        return await settle_dead_workers(self._store, self._heartbeats)

    async def run(self) -> None:
        while True:
            try:
                await self.once()
            except ParleyError as exc:  # the database is away: the next beat tries again
                log.warning("heartbeat: %s", exc)
            await asyncio.sleep(BEAT_EVERY)

"""Responses still running, so ``GET /v1/responses/{id}`` can show them.

A stored response is written once, when it ends; until then this registry answers for it with a
snapshot (``status: in_progress`` and the output so far). With several worker processes on one
data dir (``parley serve --workers N``), a process also writes each response's row as it begins,
marked as its own (``ResponseStore.begin``), so every worker sees it at once; its end replaces the
row. A worker that dies leaves its rows marked: the next process to start settles them as failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parley.storage.base import ResponseStore
from parley.storage.processes import process_alive

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


async def settle_dead_workers(store: ResponseStore) -> int:
    """Responses a dead worker left running, stored as failed, with the reason; how many."""
    settled = 0
    for response_id, owner, worker in await store.running():
        if process_alive(worker):
            continue
        stored = await store.get(response_id, owner)
        if stored is not None:
            error = {"code": "server_error", "message": WORKER_DIED}
            await store.save({**stored, "status": "failed", "error": error}, [], owner)
            settled += 1
    return settled

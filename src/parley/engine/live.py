"""Responses still running, so ``GET /v1/responses/{id}`` can show them.

A stored response is written once, when it ends; until then this registry answers for it with a
snapshot (``status: in_progress`` and the output so far). With several worker processes on one
data dir (``parley serve --workers N``), a process also writes each response's row as it begins,
marked as its own (``ResponseStore.begin``), so every worker sees it at once; its end replaces the
row. A worker that dies leaves its rows marked: the next process to start settles them as failed.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from parley.storage.base import ResponseStore

Snapshot = Callable[[], dict[str, Any]]

WORKER_DIED = "The server process running this response stopped before it finished."


class LiveResponses:
    def __init__(self, worker: str | None = None) -> None:
        self._live: dict[str, tuple[str, Snapshot]] = {}
        self.worker = worker
        """This process, when others share its store (``this_process()``); None when it is alone."""

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


def this_process() -> str:
    """Names this process so that another on the machine can tell whether it still runs: host,
    pid, and the pid's start time (a pid is reused; the pair is not)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_started(pid)}"


def _started(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"  # no procfs: the pid alone is checked
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def process_alive(worker: str) -> bool:
    """Whether ``worker`` (``this_process()``) runs; one of another host is assumed to."""
    host, pid_text, started = worker.rsplit(":", 2)
    if host != socket.gethostname():
        return True
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return started in ("?", _started(pid))


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

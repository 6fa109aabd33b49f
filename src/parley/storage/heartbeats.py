"""Which server processes sharing a database still run, for those a process cannot see itself.

On one machine a process tells whether another runs from its pid (``processes.process_alive``).
Replicas on other machines sharing PostgreSQL can only be heard from: each beats every few seconds,
and one silent for several beats is taken for dead, its running responses settled as failed. SQLite
serves one machine, so it has no heartbeats.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

BEAT_EVERY = 10.0
"""Seconds between a process's beats."""
SILENT_AFTER = 3 * BEAT_EVERY
"""Seconds without a beat after which a process is taken for dead (three beats missed)."""


class Heartbeats(Protocol):
    async def beat(self, process: str) -> None:
        """``process`` (``processes.this_process``) runs, as of now (the database's clock)."""

    async def silent(self, processes: Collection[str], after: float = SILENT_AFTER) -> set[str]:
        """Those of ``processes`` not heard from for ``after`` seconds, or never."""

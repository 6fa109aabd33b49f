"""Repository interface of locks held across processes: worker processes sharing one database
take a named lock (a conversation's, while a response on it runs) from the database itself.

A holder is a process (``processes.this_process``); a lock whose holder died is taken back by
whoever finds it so (``release`` with the dead holder's name), as nothing else would free it.
"""

from __future__ import annotations

from typing import Protocol


class Locks(Protocol):
    async def take(self, name: str, holder: str) -> str:
        """Take ``name`` for ``holder`` if it is free; who holds it now (``holder`` when taken)."""

    async def release(self, name: str, holder: str) -> None:
        """Free ``name`` if ``holder`` still holds it."""

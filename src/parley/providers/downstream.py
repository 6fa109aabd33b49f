"""Where a stream's events go, as far as the reader of the upstream needs to know it: held while the
bytes at hand are being turned into events, released before the next wait for the network.

An upstream that falls behind (a busy machine, a model that emits in bursts) hands over several
chunks in one read; turned into events, they would each cost the client's socket a write (a
loopback ``send`` costs about as much as all of Parley's own work on one event). Held and released
around each read, they go out in one write per read, and never later than the moment the stream
would have waited anyway: the wire does not change, only how many writes carry it.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Protocol


class Downstream(Protocol):
    owner: asyncio.Task[object] | None
    """The task writing the stream: only that task's reads hold it (tasks the pipeline starts
    inherit the context, not the right to delay the stream)."""

    def hold(self) -> None:
        """Events from now on wait for :meth:`release` (or the end of the stream)."""

    async def release(self) -> None:
        """Write what waited, in one piece, and stop holding."""

    def let_go(self) -> None:
        """Stop holding without writing (the reader is being closed, perhaps by the garbage
        collector's task): what waited goes out with the stream's next event or its end."""


downstream: ContextVar[Downstream | None] = ContextVar("parley_downstream", default=None)


def held_here() -> Downstream | None:
    """The stream this task writes, if it writes one."""
    target = downstream.get()
    if target is None or target.owner is not asyncio.current_task():
        return None
    return target

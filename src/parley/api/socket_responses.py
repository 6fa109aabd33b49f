"""The response store as one WebSocket sees it: the socket's latest response is answered from memory.

WebSocket mode continues a response by ``previous_response_id`` even when it was never stored
(``store: false``): the socket keeps, for itself alone, its latest response and the whole item
history a continuation of it needs (the chain it continued, its input items, its output items).
Lookups of that one id are answered from there; every other id goes to the app's store, so a
stored response continues on the socket exactly as it does over HTTP. The state dies with the
socket: on a new socket an unstored id is ``previous_response_not_found``, as in OpenAI's own
WebSocket mode.

What the socket keeps (one response at most):

- a turn that ends ``completed`` or ``incomplete`` replaces it, when the store cannot answer for
  that response in full: it was not stored, or its chain runs through one that was not (a stored
  response continuing an unstored one is saved without the unstored part). Any other finished
  turn leaves nothing kept: the store answers for it.
- a turn that continued the kept response and failed (an error before its first event, or
  ``response.failed``) evicts it, so a failed continuation is never retried from stale state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parley.engine import Turn
from parley.storage.base import Item, ResponseStore
from parley.storage.delegating import DelegatingResponseStore


@dataclass(frozen=True)
class KeptResponse:
    owner: str
    response: dict[str, Any]
    chain: list[Item]
    """Every item a continuation needs, oldest first: what ``history`` answers for it."""


@dataclass(frozen=True)
class ChainRead:
    """The chain the socket last handed the engine: the head of the next response's own chain."""

    owner: str
    response_id: str
    chain: list[Item]
    socket_only: bool
    """It came from the kept response, which the store cannot answer for in full."""


class SocketResponses(DelegatingResponseStore):
    """A ResponseStore that answers for the socket's kept response and delegates everything else."""

    def __init__(self, store: ResponseStore) -> None:
        super().__init__(store)
        self._kept: KeptResponse | None = None
        self._read: ChainRead | None = None

    def _own(self, response_id: str, owner: str) -> KeptResponse | None:
        kept = self._kept
        if kept is None or kept.response["id"] != response_id or kept.owner != owner:
            return None
        return kept

    def keep(self, turn: Turn) -> None:
        """After a turn that ended well: remember it if the store cannot answer for it in full."""
        previous, read = turn.request.previous_response_id, self._read
        continued = read is not None and previous == read.response_id and read.owner == turn.owner
        head = read.chain if read is not None and continued else []
        socket_only = not turn.request.store or (read is not None and continued and read.socket_only)
        self._read = None
        if not socket_only:
            self._kept = None
            return
        chain = [*head, *turn.input_items, *turn.response["output"]]
        self._kept = KeptResponse(turn.owner, turn.response, chain)

    def evict(self, previous_response_id: object) -> None:
        """A turn that continued ``previous_response_id`` failed: forget it if it is the kept one."""
        self._read = None
        if self._kept is not None and previous_response_id == self._kept.response["id"]:
            self._kept = None

    async def get(self, response_id: str, owner: str) -> dict[str, Any] | None:
        kept = self._own(response_id, owner)
        return kept.response if kept is not None else await self._inner.get(response_id, owner)

    async def history(self, response_id: str, owner: str) -> list[Item] | None:
        kept = self._own(response_id, owner)
        found = list(kept.chain) if kept is not None else await self._inner.history(response_id, owner)
        self._read = None if found is None else ChainRead(owner, response_id, found, kept is not None)
        return found

    async def aclose(self) -> None:
        """Nothing to close: the store is the app's, and outlives every socket."""

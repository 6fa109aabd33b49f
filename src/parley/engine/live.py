"""Responses still streaming in this process, so ``GET /v1/responses/{id}`` can show them.

A stored response is written once, when it ends; until then this registry
answers for it with a snapshot (``status: in_progress`` and the output so far).
It is process-local: another replica sees the response once it is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Snapshot = Callable[[], dict[str, Any]]


class LiveResponses:
    def __init__(self) -> None:
        self._live: dict[str, tuple[str, Snapshot]] = {}

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

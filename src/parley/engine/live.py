"""Responses still streaming in this process, so ``GET /v1/responses/{id}`` can show them.

A stored response is written once, when it ends; until then this registry
answers for it with a snapshot (``status: in_progress`` and the output so far).
It is process-local: another replica sees the response once it is stored.
"""

from __future__ import annotations

from typing import Any


class LiveResponses:
    def __init__(self) -> None:
        self._live: dict[str, tuple[str, dict[str, Any]]] = {}

    def add(self, response: dict[str, Any], owner: str) -> None:
        self._live[response["id"]] = (owner, response)

    def discard(self, response_id: str) -> None:
        self._live.pop(response_id, None)

    def get(self, response_id: str, owner: str) -> dict[str, Any] | None:
        found = self._live.get(response_id)
        if found is None or found[0] != owner:
            return None
        response = found[1]
        return {**response, "output": list(response["output"])}

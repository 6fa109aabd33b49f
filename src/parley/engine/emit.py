"""The only place that stamps ``sequence_number`` and ``output_index``.

The emitter also keeps the response's ``output`` list current (an item is
appended when it is added and replaced when it is done), so the terminal event
and the stored response are built from exactly what the client saw.
"""

from __future__ import annotations

from typing import Any

from parley.wire.events import Event, lifecycle

TERMINAL_EVENTS = frozenset({"response.completed", "response.failed", "response.incomplete"})


class Emitter:
    def __init__(self, response: dict[str, Any], first_sequence: int = 0) -> None:
        self.response = response
        self._sequence = first_sequence
        self._index: dict[str, int] = {}

    def __call__(self, event: Event) -> Event:
        kind = event["type"]
        output: list[Any] = self.response["output"]
        if kind == "response.output_item.added":
            item = event["item"]
            self._index[item["id"]] = event["output_index"] = len(output)
            output.append(item)
        elif kind == "response.output_item.done":
            item = event["item"]
            index = event["output_index"] = self._index[item["id"]]
            output[index] = item
        elif "item_id" in event:
            event["output_index"] = self._index[event["item_id"]]
        event["sequence_number"] = self._sequence
        self._sequence += 1
        return event

    def lifecycle(self, kind: str) -> Event:
        """A lifecycle event carrying a snapshot, so later changes never leak into it."""
        return self(lifecycle(kind, {**self.response, "output": list(self.response["output"])}))

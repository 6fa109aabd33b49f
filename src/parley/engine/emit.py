"""The only place that stamps ``sequence_number`` and ``output_index``.

The emitter also keeps the response's ``output`` list current (an item is
appended when it is added and replaced when it is done), so the terminal event
and the stored response are built from exactly what the client saw. What an
open item has said so far (its text and argument deltas) is kept aside, one
list append per delta, and joined only when someone asks (``snapshot``): a
``GET`` of a running response, or a response stopped midway.
"""

from __future__ import annotations

from typing import Any

from parley.wire.events import Event, lifecycle
from parley.wire.items import Item

TERMINAL_EVENTS = frozenset({"response.completed", "response.failed", "response.incomplete"})
_TEXT_FIELDS = {"output_text": "text", "refusal": "refusal", "reasoning_text": "text"}
_WHOLE_FIELDS = {"function_call": "arguments", "custom_tool_call": "input"}


class Emitter:
    def __init__(self, response: dict[str, Any], first_sequence: int = 0) -> None:
        self.response = response
        self._sequence = first_sequence
        self._index: dict[str, int] = {}
        self._open: dict[str, _Said] = {}
        """What each open item has said so far, by id; dropped when the item is done."""

    def __call__(self, event: Event) -> Event:
        kind = event["type"]
        output: list[Any] = self.response["output"]
        if kind == "response.output_item.added":
            item = event["item"]
            self._index[item["id"]] = event["output_index"] = len(output)
            self._open[item["id"]] = _Said()
            output.append(item)
        elif kind == "response.output_item.done":
            item = event["item"]
            index = event["output_index"] = self._index[item["id"]]
            output[index] = item
            self._open.pop(item["id"], None)
        elif "item_id" in event:
            event["output_index"] = self._index[event["item_id"]]
            said = self._open.get(event["item_id"])
            if said is not None and "delta" in event:
                said.deltas.setdefault(event.get("content_index"), []).append(event["delta"])
            elif said is not None and kind == "response.content_part.added":
                said.parts[event["content_index"]] = event["part"]
        event["sequence_number"] = self._sequence
        self._sequence += 1
        return event

    def lifecycle(self, kind: str) -> Event:
        """A lifecycle event carrying a snapshot, so later changes never leak into it."""
        return self(lifecycle(kind, {**self.response, "output": list(self.response["output"])}))

    def snapshot(self) -> dict[str, Any]:
        """The response as it stands, open items with what they have said so far."""
        output = [
            self._said_so_far(item) if item["id"] in self._open else item for item in self.response["output"]
        ]
        return {**self.response, "output": output}

    def _said_so_far(self, item: Item) -> Item:
        """A copy: the item itself is shared with events already sent, and stays as they showed it."""
        said = self._open[item["id"]]
        whole = _WHOLE_FIELDS.get(item["type"])
        if whole is not None:
            return {**item, whole: said.text(None)}
        if not said.parts:
            return item
        content = []
        for index, part in sorted(said.parts.items()):
            field = _TEXT_FIELDS.get(part["type"])
            content.append({**part, field: said.text(index)} if field else part)
        return {**item, "content": content}


class _Said:
    """An open item's content parts (by index) and the deltas of each (None: the whole item's)."""

    __slots__ = ("deltas", "parts")

    def __init__(self) -> None:
        self.parts: dict[int, dict[str, Any]] = {}
        self.deltas: dict[int | None, list[str]] = {}

    def text(self, index: int | None) -> str:
        return "".join(self.deltas.get(index, ()))

"""Stored context converted to chat messages once, then only what was appended since.

A turn on a conversation of a thousand items would otherwise turn all thousand into chat messages
again, on every model call of every turn. The conversion of a turn's stored items (its
conversation, or its ``previous_response_id`` chain) is kept per conversation or chain, and
the next turn converts only the items appended since. A kept conversion is used only while the
items it was made from are still the head of the stored items (same count at least, same last
item there): anything else, an item deleted say, converts the whole history again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from parley.engine.messages import Converted, convert
from parley.engine.toolset import Toolset
from parley.wire.items import Item

MAX_HISTORIES = 512
"""Conversions kept, least recently used dropped first."""


class HistoryMessages:
    def __init__(self, size: int = MAX_HISTORIES) -> None:
        self._kept: OrderedDict[Hashable, Converted] = OrderedDict()
        self._size = size

    def convert(self, key: Hashable, items: list[Item], toolset: Toolset, with_reasoning: bool) -> Converted:
        """``items`` (a turn's stored history) as chat messages; ``key`` names the history, and the
        conversion depends on the tools' chat names and the provider's reasoning capability too."""
        full_key = (key, toolset.signature(), with_reasoning)
        kept = self._kept.get(full_key)
        if kept is not None and _extends(kept, items):
            appended = items[kept.count :]
            converted = convert(appended, toolset, with_reasoning, kept) if appended else kept
        else:
            converted = convert(items, toolset, with_reasoning)
        self._kept[full_key] = converted
        self._kept.move_to_end(full_key)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)
        return converted


def _extends(kept: Converted, items: list[Item]) -> bool:
    if kept.count > len(items):
        return False
    return kept.count == 0 or items[kept.count - 1].get("id") == kept.last_id

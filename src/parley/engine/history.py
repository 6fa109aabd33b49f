"""Stored context read once, then only what was appended since.

A turn on a conversation of a thousand items would otherwise turn all thousand into chat messages
again, on every model call of every turn, and scan all thousand for the item types that need
more work (compaction items to open, tool_search outputs whose tools to load). The conversion
and the set of item types of a turn's stored items (its conversation, or its
``previous_response_id`` chain) are kept per conversation or chain, and the next turn reads only
the items appended since. What is kept is used only while the items it was made from are still
the head of the stored items (same count at least, same last item there): anything else, an item
deleted say, reads the whole history again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace
from itertools import chain
from typing import Protocol, TypeVar

from parley.engine.files import kinds
from parley.engine.messages import Converted, convert
from parley.engine.toolset import Toolset
from parley.providers.encoding import encode_messages
from parley.wire.items import Item

MAX_HISTORIES = 512
"""Conversions kept, least recently used dropped first."""


class _Read(Protocol):
    """What was made from the head of a history: from how many items, the last one's id."""

    @property
    def count(self) -> int: ...
    @property
    def last_id(self) -> str | None: ...


_R = TypeVar("_R", bound=_Read)


@dataclass(frozen=True)
class _Types:
    count: int
    last_id: str | None
    types: frozenset[str]


class _Kept(OrderedDict[Hashable, _R]):
    """Least recently used dropped first."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size

    def extended(self, key: Hashable, items: list[Item]) -> _R | None:
        """What is kept under ``key``, if ``items`` still begin with what it was made from."""
        kept = self.get(key)
        if kept is None or kept.count > len(items):
            return None
        return kept if kept.count == 0 or items[kept.count - 1].get("id") == kept.last_id else None

    def keep(self, key: Hashable, read: _R) -> _R:
        self[key] = read
        self.move_to_end(key)
        while len(self) > self._size:
            self.popitem(last=False)
        return read


class HistoryMessages:
    def __init__(self, size: int = MAX_HISTORIES) -> None:
        self._kept: _Kept[Converted] = _Kept(size)
        self._types: _Kept[_Types] = _Kept(size)

    def item_types(self, key: Hashable, items: list[Item]) -> frozenset[str]:
        """The types of ``items`` (a turn's stored history, named by ``key``)."""
        kept = self._types.extended(key, items)
        if kept is not None and kept.count == len(items):
            return kept.types
        appended = items[kept.count :] if kept else items
        types = frozenset(chain.from_iterable(map(kinds, appended))) | (kept.types if kept else frozenset())
        return self._types.keep(key, _Types(len(items), items[-1].get("id") if items else None, types)).types

    def convert(
        self, key: Hashable, items: list[Item], toolset: Toolset, reasoning_field: str | None
    ) -> Converted:
        """``items`` (a turn's stored history) as chat messages; ``key`` names the history, and the
        conversion depends on the tools' chat names and the provider's reasoning capability too."""
        full_key = (key, toolset.signature(), reasoning_field)
        kept = self._kept.extended(full_key, items)
        if kept is None:
            return self._kept.keep(full_key, _encoded(convert(items, toolset, reasoning_field), None))
        appended = items[kept.count :]
        if not appended:
            return self._kept.keep(full_key, kept)
        return self._kept.keep(full_key, _encoded(convert(appended, toolset, reasoning_field, kept), kept))


def _encoded(converted: Converted, kept: Converted | None) -> Converted:
    """``converted`` with its messages encoded, all but an open last message (an assistant message,
    or a tool result's images: later items may still add to it); only the messages ``kept`` (what
    it was converted after) had not are encoded."""
    messages = converted.messages
    settled = len(messages) - converted.open_tail
    done, encoded = (kept.encoded, kept.encoded_json) if kept and kept.intact_in(messages) else (0, b"")
    if settled > done:
        more = encode_messages(messages[done:settled])
        encoded = encoded + b"," + more if encoded else more
    return replace(converted, encoded=settled, encoded_json=encoded) if settled else converted

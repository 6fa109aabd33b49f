"""Conversations' items kept decoded between turns, for either backend.

Decoding a thousand items on every turn would cost more than the rest of the turn, so the items
are kept per conversation with the last position read. One indexed query returns the rows past
that position and the conversation's count of deletions (``deletions``, which every delete of an
item bumps): while that count is the one the kept items were read at, the new rows are appended
to them; an item deleted since, by this process or another, reads everything again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from parley.storage.base import Item

KEPT_CONVERSATIONS = 256
"""Conversations whose decoded items are kept in memory, least recently used dropped first."""

Rows = Sequence[Sequence[Any]]
"""(deletions, position, data) per row past a position; one row of (deletions, None, None) for a
conversation with none past it (a LEFT JOIN), no rows for one that does not exist."""


@dataclass(frozen=True)
class _Kept:
    last_position: int
    deletions: int
    items: list[Item]


class KeptItems:
    def __init__(self, capacity: int = KEPT_CONVERSATIONS) -> None:
        self._capacity = capacity
        self._kept: OrderedDict[tuple[str, str], _Kept] = OrderedDict()

    async def all_items(
        self, owner: str, conversation_id: str, rows_after: Callable[[int], Awaitable[Rows]]
    ) -> list[Item] | None:
        """Every item, oldest first; None when the conversation is missing."""
        key = (owner, conversation_id)
        kept = self._kept.get(key)
        after, known = (kept.last_position, kept.items) if kept else (-1, [])
        rows = await rows_after(after)
        if not rows:
            self._kept.pop(key, None)
            return None
        deletions, fresh = rows[0][0], [(position, data) for _, position, data in rows if data is not None]
        if kept is not None and kept.deletions != deletions:
            self._kept.pop(key, None)
            return await self.all_items(owner, conversation_id, rows_after)
        items = [*known, *(orjson.loads(data) for _, data in fresh)]
        last = fresh[-1][0] if fresh else after
        self._kept[key] = _Kept(last, deletions, items)
        self._kept.move_to_end(key)
        while len(self._kept) > self._capacity:
            self._kept.popitem(last=False)
        return list(items)

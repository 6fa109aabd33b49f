"""Responses on a conversation: one at a time, each seeing everything the ones before it added.

A response on a conversation reads the conversation's items as its context and, when it ends,
appends its input and output items in the very transaction that stores it
(``ResponseStore.save``). Two responses racing on one conversation would both read the same
items, and the second's answer would ignore the first's. So a response holds the
conversation's lock from just before its first event until its items are stored: a second one
waits its turn (up to ``LOCK_WAIT`` seconds, then OpenAI's own answer, ``conversation_locked``),
re-reads the conversation if it changed meanwhile, and appends after the first. Nothing
interleaves and nothing is lost.

The lock lives in this process; processes sharing a database (workers, replicas) also take the
database's lock of that name (``storage/named_locks.py``), so the rule holds across them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from parley.engine.compaction import read_stored
from parley.errors import InvalidRequest, NotFound
from parley.storage.base import ConversationStore
from parley.storage.heartbeats import Heartbeats
from parley.storage.locks import Locks
from parley.storage.named_locks import NamedLocks
from parley.wire.events import Event
from parley.wire.items import item_type

if TYPE_CHECKING:  # prepare.py builds turns with this module's locks
    from parley.engine.prepare import Turn

LOCK_WAIT = 60.0
"""Seconds a response waits for another on the same conversation before giving up."""


def conversation_not_found(conversation_id: str) -> NotFound:
    return NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation")


class ConversationLocks:
    """A conversation's lock: an asyncio lock in this process and, where other processes share the
    database (``shared``), also the database's lock named after it, held by this process
    (``holder``); a holder on another machine that stopped beating (``heartbeats``) lets go."""

    def __init__(
        self, shared: Locks | None = None, holder: str | None = None, heartbeats: Heartbeats | None = None
    ) -> None:
        self._locks = NamedLocks(shared, holder, heartbeats)

    def hold(self, conversation_id: str, wait: float = LOCK_WAIT) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(f"conversation:{conversation_id}", wait, _locked)


def _locked() -> InvalidRequest:
    return InvalidRequest(
        "Another process is currently operating on this conversation. Please retry in a few seconds.",
        param="conversation",
        code="conversation_locked",
    )


async def in_conversation(
    events: AsyncIterator[Event], turn: Turn, store: ConversationStore | None, locks: ConversationLocks
) -> AsyncIterator[Event]:
    """``events`` of a turn, run under its conversation's lock with the conversation as it is now."""
    conversation_id = turn.conversation_id
    if conversation_id is None or store is None:
        async for event in events:
            yield event
        return
    async with locks.hold(conversation_id):
        items = await store.all_items(conversation_id, turn.owner)
        if items is None:  # deleted since the turn was prepared
            raise conversation_not_found(conversation_id)
        if (len(items), items[-1].get("id") if items else None) != turn.stored_mark:  # changed meanwhile
            opened = read_stored(items, frozenset(map(item_type, items)), turn.sealer)
            turn.context[: turn.history] = opened
            turn.history = len(opened)
        async for event in events:
            yield event


async def started(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """``events`` with the first one already awaited, so that what fails before it (a missing or
    locked conversation) fails as an HTTP error rather than inside a stream."""
    first = await anext(events)

    async def resumed() -> AsyncIterator[Event]:
        yield first
        async for event in events:
            yield event

    return resumed()

"""Responses on a conversation: one at a time, each seeing everything the ones before it added.

A response on a conversation reads the conversation's items as its context and, when it ends,
appends its input and output items in the very transaction that stores it
(``ResponseStore.save``). Two responses racing on one conversation would both read the same
items, and the second's answer would ignore the first's. So a response holds the
conversation's lock from just before its first event until its items are stored: a second one
waits its turn (up to ``LOCK_WAIT`` seconds, then OpenAI's own answer, ``conversation_locked``),
re-reads the conversation if it changed meanwhile, and appends after the first. Nothing
interleaves and nothing is lost.

The lock lives in this process; worker processes sharing a database also take the database's
lock of that name (``storage/locks.py``), so the rule holds across them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from parley.engine.compaction import read_stored
from parley.errors import InvalidRequest, NotFound
from parley.storage.base import ConversationStore
from parley.storage.locks import Locks
from parley.storage.processes import process_alive
from parley.wire.events import Event
from parley.wire.items import item_type

if TYPE_CHECKING:  # prepare.py builds turns with this module's locks
    from parley.engine.prepare import Turn

LOCK_WAIT = 60.0
"""Seconds a response waits for another on the same conversation before giving up."""


def conversation_not_found(conversation_id: str) -> NotFound:
    return NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation")


class ConversationLocks:
    """A conversation's lock: an asyncio lock in this process and, where worker processes share
    the database (``shared``), also the database's lock named after it, held by this process."""

    def __init__(self, shared: Locks | None = None, holder: str | None = None) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._shared, self._holder = shared, holder

    @asynccontextmanager
    async def hold(self, conversation_id: str, wait: float = LOCK_WAIT) -> AsyncIterator[None]:
        lock, users = self._locks.get(conversation_id, (asyncio.Lock(), 0))
        self._locks[conversation_id] = (lock, users + 1)
        deadline = asyncio.get_running_loop().time() + wait
        try:
            try:
                await asyncio.wait_for(lock.acquire(), wait)
            except TimeoutError:
                raise _locked() from None
            try:
                async with self._held_across_processes(f"conversation:{conversation_id}", deadline):
                    yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[conversation_id]
            if users == 1:
                del self._locks[conversation_id]
            else:
                self._locks[conversation_id] = (lock, users - 1)

    @asynccontextmanager
    async def _held_across_processes(self, name: str, deadline: float) -> AsyncIterator[None]:
        if self._shared is None or self._holder is None:
            yield
            return
        delay = 0.005
        while (holder := await self._shared.take(name, self._holder)) != self._holder:
            if not process_alive(holder):  # it died holding it: nobody else would free it
                await self._shared.release(name, holder)
                continue
            if asyncio.get_running_loop().time() + delay > deadline:
                raise _locked()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            await self._shared.release(name, self._holder)


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

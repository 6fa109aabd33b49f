"""The events of background streams: kept in memory for readers in this process while the
response runs, and written to the store in batches for readers that come later or elsewhere.

A reader of a background stream (``GET /v1/responses/{id}?stream=true&starting_after=N``) follows
the response's ``LiveEvents`` when it runs in this process: every event since the first is held
there, so any starting point is served without the store. Otherwise it reads what was kept and
polls for more until the stream has ended. Writes are batched (``EventWriter``): one
transaction per ``BATCH`` events or per ``FLUSH_AFTER`` seconds, never one per token; the last
batch goes with the job's end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson

from parley.engine.emit import TERMINAL_EVENTS
from parley.storage.background import BackgroundJobs, EventRow
from parley.wire.events import Event

BATCH = 256
FLUSH_AFTER = 0.25
"""Seconds an event may wait for its batch: readers here follow live, so only readers in other
processes (and a restart) see events this much later; each flush is a transaction."""
POLL = 0.05
"""Seconds between reads of a stream that runs in another process."""

Encoded = tuple[str, bytes]
"""An event's type and its JSON: encoded once, for the store and for every reader."""


def encoded(event: Event) -> Encoded:
    return event["type"], orjson.dumps(event)


class LiveEvents:
    """One running response's events, encoded, in order (an event's index is its sequence number)."""

    def __init__(self, first: list[Encoded]) -> None:
        self._events = list(first)
        self._waiting: list[asyncio.Future[None]] = []
        self.ended = False

    @property
    def count(self) -> int:
        """How many events so far: the next one's sequence number."""
        return len(self._events)

    def add(self, event: Encoded) -> None:
        self._events.append(event)
        self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        """Readers that caught up wait on a future each; most events find none waiting."""
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.done():
                future.set_result(None)

    async def follow(self, after: int) -> AsyncIterator[Encoded]:
        """The events after sequence number ``after``, then each as it comes, until the end."""
        index = after + 1
        while True:
            while index < len(self._events):
                yield self._events[index]
                index += 1
            if self.ended:
                return
            future = asyncio.get_running_loop().create_future()
            self._waiting.append(future)
            await future


class EventWriter:
    """Events of one background stream on their way to the store, a batch at a time."""

    def __init__(self, jobs: BackgroundJobs, response_id: str) -> None:
        self._jobs = jobs
        self._response_id = response_id
        self._pending: list[EventRow] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, sequence: int, data: bytes) -> None:
        self._pending.append((sequence, data))
        if len(self._pending) >= BATCH:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        if self._pending:
            self._jobs.append_events(self._response_id, self.take())

    def take(self) -> list[EventRow]:
        """The events not written yet, for the caller to write (with the job's end, in its transaction)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        return pending


async def kept_events(
    jobs: BackgroundJobs, response_id: str, owner: str, after: int
) -> AsyncIterator[Encoded]:
    """A stream read back from the store, polled until its job is done (it may run elsewhere). The
    job's state is read before the events: once it is done, what is read after it is complete."""
    while True:
        job = await jobs.get(response_id, owner)
        for sequence, data in await jobs.events_after(response_id, owner, after):
            kind: str = orjson.loads(data)["type"]
            yield kind, data
            after = sequence
            if kind in TERMINAL_EVENTS:
                return
        if job is None or job.state == "done":
            return
        await asyncio.sleep(POLL)

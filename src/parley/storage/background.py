"""Repository interfaces of background responses: the job queue and the events a stream replays.

A background response is a job in the store, never an entry in a process-local list: a worker
claims jobs under a lease it keeps renewing, so any worker (another replica, or this server after
a restart) can tell a job whose worker died (its lease ran out) and settle it. The events of a
background stream are kept, in order, so a reader can replay them from any sequence number.

The conventions of ``storage/base.py`` hold: every row has an owner and every lookup by id is
scoped by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

JobState = Literal["queued", "running", "done"]
EventRow = tuple[int, bytes]
"""An event's sequence number and its JSON."""
Claim = tuple[str, float]
"""A worker, and the seconds of the lease it takes."""


@dataclass(frozen=True)
class Job:
    response_id: str
    owner: str
    request: dict[str, Any]
    """The create request as the caller sent it: a worker without the prepared turn prepares it again."""
    stream: bool
    """Whether the events are kept (the response was created with ``stream: true``)."""
    state: JobState = "queued"


class BackgroundJobs(Protocol):
    async def enqueue(
        self,
        job: Job,
        response: dict[str, Any],
        events: list[EventRow],
        limit: int,
        claim: Claim | None = None,
    ) -> bool:
        """Queue the job, write its response (status ``queued``) and its first events, in one
        transaction; False, with nothing written, when ``limit`` jobs are queued already. With
        ``claim``, the job is claimed in the same transaction (the worker here has room)."""

    async def queued(self) -> int:
        """How many jobs wait for a worker (the queue bound is checked against it)."""

    async def claim(self, worker: str, lease: float, limit: int) -> list[Job]:
        """Up to ``limit`` queued jobs, oldest first, now running under ``worker`` for ``lease`` seconds."""

    async def renew(self, worker: str, lease: float) -> set[str]:
        """Extend the leases of ``worker``'s running jobs; the ids of those whose cancel was asked."""

    async def take_expired(self, worker: str, lease: float) -> list[Job]:
        """Running jobs whose lease ran out (their worker is gone), now leased to ``worker`` to settle."""

    async def get(self, response_id: str, owner: str) -> Job | None: ...

    async def request_cancel(self, response_id: str, owner: str) -> JobState | None:
        """Ask the job's worker to cancel it; a queued job is done at once. The state it was in."""

    async def finish(
        self, response_id: str, response: dict[str, Any] | None, owner: str, events: list[EventRow]
    ) -> None:
        """The job is done: with ``response``, that response row and the last ``events`` are written
        in the same transaction (how a worker settles a job it did not run to its end)."""

    def append_events(self, response_id: str, events: list[EventRow]) -> None:
        """Queue a write of events without waiting; later reads and ``finish`` see them."""

    async def events_after(self, response_id: str, owner: str, after: int) -> list[EventRow]:
        """The kept events with a sequence number above ``after``, in order."""

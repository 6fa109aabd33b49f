"""Background responses: ``background: true`` answers at once, and the turn runs on without its client.

Enqueueing prepares the turn (what can fail, fails as the HTTP error), then writes the response
as ``queued`` with its job and, for a stream, its first two events (``response.created``,
``response.queued``), in one transaction, and wakes the worker. The worker claims jobs from the
store under a lease (``storage/background.py``), at most ``max_running`` at a time, and runs each
through the one pipeline (``run_prepared``): the very turn prepared here, or, for a job queued
by a process that is gone, the turn prepared again from its stored request. A heartbeat renews
the leases and delivers cancels asked of another process. A job whose lease ran out lost its
worker mid-run: it is settled as failed, with the reason, so that none stays ``in_progress``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from parley.engine.emit import Emitter
from parley.engine.jobs import FINISHED, RunningJob, run_job, settle_expired
from parley.engine.prepare import EngineDeps, Turn, prepare_turn
from parley.engine.streams import Encoded, LiveEvents, encoded, kept_events
from parley.errors import InvalidRequest, NotFound, TooManyRequests
from parley.storage.background import BackgroundJobs, Job
from parley.storage.processes import instance_name
from parley.wire.request import CreateResponseRequest
from parley.wire.tools import without_credentials

log = logging.getLogger(__name__)

JOB_POLL = 1.0
"""Seconds between looks at the queue for jobs another process queued."""
SPAWN_WAIT = 100
"""Ticks of 10 ms a cancel waits for a job claimed a moment ago to be spawned here."""


class BackgroundResponses:
    def __init__(
        self,
        deps: EngineDeps,
        jobs: BackgroundJobs,
        *,
        max_running: int = 32,
        max_queued: int = 10_000,
        lease: float = 30.0,
    ) -> None:
        self._deps, self._jobs = deps, jobs
        self._max_running, self._max_queued, self._lease = max_running, max_queued, lease
        self.worker = instance_name()
        self._prepared: dict[str, tuple[Turn, LiveEvents | None]] = {}
        self._running: dict[str, RunningJob] = {}
        self._cancel_asked: set[str] = set()
        self._reserved = 0
        """Room taken by jobs being enqueued to run here at once."""
        self._wake = asyncio.Event()
        self._work_task: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        """At server start: settle what a dead process left running, then work the queue."""
        await settle_expired(self._deps, self._jobs, self.worker, self._lease)
        self._ensure_worker()

    def _ensure_worker(self) -> None:
        """The worker starts with the server, or with the first job where no lifespan runs (tests)."""
        if self._work_task is None and not self._closed:
            self._work_task = asyncio.create_task(self._work(), name="parley-background")

    async def aclose(self) -> None:
        """Stop claiming, and stop what runs: each ends failed, the shutdown its reason."""
        self._closed = True
        if self._work_task is not None:
            self._work_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._work_task
        tasks = [running.task for running in self._running.values() if running.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def enqueue(
        self, request: CreateResponseRequest, body: dict[str, Any], owner: str
    ) -> tuple[dict[str, Any], LiveEvents | None]:
        """The queued response, and for a stream the live events that begin with its first two."""
        turn = await prepare_turn(request, self._deps, owner)
        turn.response["status"] = "queued"
        emit = Emitter(turn.response)
        first = [emit.lifecycle("created"), emit.lifecycle("queued")]
        turn.first_sequence = len(first)
        response_id = turn.response["id"]
        opening = [encoded(event) for event in first] if request.stream else []
        live = LiveEvents(opening) if request.stream else None
        kept = [(sequence, data) for sequence, (_, data) in enumerate(opening)]  # encoded once
        self._prepared[response_id] = (turn, live)
        job = Job(response_id, owner, without_credentials(body), request.stream)  # MCP credentials stay here
        claim = (self.worker, self._lease) if self._room() > 0 else None  # run here at once
        self._reserved += claim is not None
        try:
            row = {**first[0]["response"], "status": "in_progress"} if claim else first[0]["response"]
            if not await self._jobs.enqueue(job, row, kept, self._max_queued, claim):
                raise self._queue_full()
        except BaseException:
            self._prepared.pop(response_id, None)
            raise
        finally:
            self._reserved -= claim is not None
        self._ensure_worker()
        if claim is not None:
            self._spawn(job, stored_running=True)
        else:
            self._wake.set()
        return first[0]["response"], live

    def _room(self) -> int:
        """How many more jobs this process may run now."""
        return self._max_running - len(self._running) - self._reserved

    def _queue_full(self) -> TooManyRequests:
        return TooManyRequests(
            f"Too many background responses are queued ({self._max_queued}); retry later.",
            code="too_many_background_responses",
        )

    async def follow(self, response_id: str, owner: str, after: int) -> AsyncIterator[Encoded]:
        """A background stream from after sequence number ``after``: live when it runs here, else
        read back from the store (and polled while it runs elsewhere)."""
        job = await self._jobs.get(response_id, owner)
        if job is None:
            if await self._response(response_id, owner) is None:
                raise _not_found(response_id)
            raise InvalidRequest(
                "This response cannot be streamed because it was not created with background=true.",
                param="stream",
            )
        if not job.stream:
            raise InvalidRequest(
                "This response cannot be streamed because it was not created with stream=true.",
                param="stream",
            )
        live = self._live(response_id)
        return live.follow(after) if live is not None else kept_events(self._jobs, response_id, owner, after)

    def _live(self, response_id: str) -> LiveEvents | None:
        running = self._running.get(response_id)
        if running is not None:
            return running.live
        prepared = self._prepared.get(response_id)
        return prepared[1] if prepared else None

    async def cancel(self, response_id: str, owner: str) -> dict[str, Any]:
        response = await self._response(response_id, owner)
        if response is None:
            raise _not_found(response_id)
        if not response.get("background"):
            raise InvalidRequest(
                "Only responses created with background=true can be cancelled.", param="response_id"
            )
        status = response["status"]
        if status == "cancelled":
            return response
        if status in FINISHED:
            raise InvalidRequest(f"Cannot cancel a response that is already {status}.", param="response_id")
        state = await self._jobs.request_cancel(response_id, owner)
        if state == "queued":
            return await self._cancel_queued(response_id, owner, response)
        self._cancel_asked.add(response_id)  # a job claimed just now is cancelled as it is spawned
        for _ in range(SPAWN_WAIT):
            if response_id in self._running:
                break
            await asyncio.sleep(0.01)
        running = self._running.get(response_id)
        if running is not None and running.task is not None:
            self._stop(running, cancelled=True)
            await asyncio.wait([running.task])
        # A job running in another process is cancelled by that process's next heartbeat.
        return await self._response(response_id, owner) or response

    async def _cancel_queued(self, response_id: str, owner: str, response: dict[str, Any]) -> dict[str, Any]:
        cancelled = {**response, "status": "cancelled"}
        prepared = self._prepared.pop(response_id, None)
        await self._jobs.finish(response_id, cancelled, owner, [])
        if prepared and prepared[1] is not None:
            prepared[1].end()
        return cancelled

    def _stop(self, running: RunningJob, *, cancelled: bool) -> None:
        """Cancel the task running a job; ``cancelled`` (asked by the caller) is stored as such."""
        self._cancel_asked.discard(running.job.response_id)
        running.cancelled = cancelled
        if running.turn is not None:
            running.turn.cancelled = cancelled
        if running.task is not None:
            running.task.cancel()

    async def _response(self, response_id: str, owner: str) -> dict[str, Any] | None:
        return self._deps.live.get(response_id, owner) or await self._deps.responses.get(response_id, owner)

    async def _work(self) -> None:
        """Claim what there is room for, renew leases now and then, and sleep until woken."""
        loop = asyncio.get_running_loop()
        next_beat = 0.0
        while not self._closed:
            try:
                if loop.time() >= next_beat:
                    await self._heartbeat()
                    next_beat = loop.time() + self._lease / 3
                room = self._room()
                if room > 0:
                    for job in await self._jobs.claim(self.worker, self._lease, room):
                        self._spawn(job)
            except Exception:  # a store hiccup must not stop the worker
                log.exception("background worker iteration failed")
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel that meets a wake-up.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(JOB_POLL, max(0.0, next_beat - loop.time()))):
                    await self._wake.wait()
            self._wake.clear()

    def _spawn(self, job: Job, *, stored_running: bool = False) -> None:
        """Run a claimed job; ``stored_running``: its row says in_progress already (claimed when queued)."""
        turn, live = self._prepared.pop(job.response_id, (None, None))
        running = RunningJob(job, turn=turn, live=live, stored_running=stored_running)
        self._running[job.response_id] = running
        running.task = asyncio.create_task(self._run(running), name=f"parley-background-{job.response_id}")
        if job.response_id in self._cancel_asked:
            self._stop(running, cancelled=True)

    async def _heartbeat(self) -> None:
        for response_id in await self._jobs.renew(self.worker, self._lease):
            running = self._running.get(response_id)
            if running is not None and not running.cancelled:
                self._stop(running, cancelled=True)
        await settle_expired(self._deps, self._jobs, self.worker, self._lease)

    async def _run(self, running: RunningJob) -> None:
        try:
            await run_job(self._deps, self._jobs, running)
        finally:
            self._running.pop(running.job.response_id, None)
            self._wake.set()


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")

"""One background job run to its end, and the ends of those that were not.

A job runs its turn through the one pipeline (``run_prepared``), its events passed to readers in
this process (``LiveEvents``) and, for a stream, kept in batches (``EventWriter``). A job that does
not run to its end is stored as what it became: ``cancelled`` when its caller asked; ``failed``,
with the reason, when the server stopped or its worker died (a stream then ends with a
``response.failed`` event, so that its readers see the end).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson

from parley.engine.emit import Emitter
from parley.engine.persist import interrupted
from parley.engine.prepare import EngineDeps, Turn, prepare_turn
from parley.engine.start import run_prepared
from parley.engine.streams import EventWriter, LiveEvents, encoded
from parley.errors import ParleyError
from parley.storage.background import BackgroundJobs, EventRow, Job
from parley.wire.events import Event
from parley.wire.request import parse_create_request

FINISHED = ("completed", "failed", "incomplete", "cancelled")
WORKER_GONE = "The server running this background response stopped before it finished."


@dataclass
class RunningJob:
    job: Job
    task: asyncio.Task[None] | None = None
    turn: Turn | None = None
    live: LiveEvents | None = None
    cancelled: bool = False
    """Asked by the caller (stored ``cancelled``), not a shutdown (stored ``failed``)."""
    events: int = 0
    stored_running: bool = False
    """Its row says ``in_progress`` already; else the run says so first, for readers elsewhere."""


async def run_job(deps: EngineDeps, jobs: BackgroundJobs, running: RunningJob) -> None:
    """``running.turn`` (prepared when it was queued here) or the job's turn prepared again."""
    job = running.job
    writer = EventWriter(jobs, job.response_id) if job.stream else None
    try:
        if running.turn is None:
            running.turn, running.live = await _prepare_again(deps, jobs, job)
        running.turn.cancelled = running.cancelled
        if not running.stored_running:
            deps.responses.record({**running.turn.response, "status": "in_progress"}, job.owner)
        run = await run_prepared(running.turn, deps)
        async for event in run.events:
            running.events += 1
            if running.live is not None:  # a stream: kept, and followed here
                _pass_on(running.live, writer, event)
    except asyncio.CancelledError:
        await _stopped(deps, running, writer)
    except ParleyError as exc:  # it could not start: its conversation was deleted meanwhile, say
        failed = await _fail(deps, jobs, job, exc.message, running.live.count if running.live else None)
        if failed is not None and running.live is not None:
            running.live.add(encoded(failed))
    finally:
        await jobs.finish(job.response_id, None, job.owner, writer.take() if writer else [])
        if running.live is not None:
            running.live.end()


async def _prepare_again(deps: EngineDeps, jobs: BackgroundJobs, job: Job) -> tuple[Turn, LiveEvents | None]:
    """The turn of a job queued by a process that is gone, from the request it stored; for a
    stream, its live events begin with the two kept when it was queued."""
    turn = await prepare_turn(parse_create_request(job.request), deps, job.owner, job.response_id)
    kept = await jobs.events_after(job.response_id, job.owner, -1) if job.stream else []
    turn.first_sequence = len(kept) or 2
    first = [(orjson.loads(data)["type"], data) for _, data in kept]
    return turn, LiveEvents(first) if job.stream else None


async def _stopped(deps: EngineDeps, running: RunningJob, writer: EventWriter | None) -> None:
    """Cancelled, or stopped by the shutdown: the pipeline stored what it had (``persist``) once it
    had begun; before that, the response is stored here. A shutdown ends a stream failed."""
    job, turn = running.job, running.turn
    if turn is None or running.events == 0:
        stored = await deps.responses.get(job.response_id, job.owner)
        if stored is not None:
            deps.responses.record(
                {**stored, "status": "cancelled" if running.cancelled else "failed"}, job.owner
            )
    if not running.cancelled and turn is not None and writer is not None and running.live is not None:
        _pass_on(running.live, writer, failed_event(interrupted(turn), running.live.count))


def _pass_on(live: LiveEvents, writer: EventWriter | None, event: Event) -> None:
    """One event of a stream to its readers here and on its way to the store, encoded once."""
    item = encoded(event)
    live.add(item)
    if writer is not None:
        writer.add(event["sequence_number"], item[1])


async def settle_expired(deps: EngineDeps, jobs: BackgroundJobs, worker: str, lease: float) -> None:
    """Jobs whose worker is gone (their lease ran out mid-run): failed, with the reason."""
    for job in await jobs.take_expired(worker, lease):
        stored = await deps.responses.get(job.response_id, job.owner)
        if stored is None or stored["status"] in FINISHED:
            await jobs.finish(job.response_id, None, job.owner, [])
            continue
        kept = await jobs.events_after(job.response_id, job.owner, -1) if job.stream else []
        await _fail(deps, jobs, job, WORKER_GONE, kept[-1][0] + 1 if kept else None)


async def _fail(
    deps: EngineDeps, jobs: BackgroundJobs, job: Job, message: str, sequence: int | None
) -> Event | None:
    """The job stored failed, and its stream (``sequence``: the next event's) ended by the event returned."""
    stored = await deps.responses.get(job.response_id, job.owner)
    if stored is None:
        return None
    failed = {**stored, "status": "failed", "error": {"code": "server_error", "message": message}}
    event = None if sequence is None else failed_event(failed, sequence)
    await jobs.finish(job.response_id, failed, job.owner, [] if event is None else [event_row(event)])
    return event


def failed_event(response: dict[str, Any], sequence: int) -> Event:
    return Emitter(response, sequence).lifecycle("failed")


def event_row(event: Event) -> EventRow:
    return event["sequence_number"], orjson.dumps(event)

"""Background jobs and kept stream events in PostgreSQL: the rows of ``sqlite/background.py``, with
what SQLite's one writer thread made atomic made so for replicas sharing one database.

- A claim (and a takeover of expired leases) locks its rows ``FOR UPDATE SKIP LOCKED``: replicas
  claiming at once each take other jobs, and none waits for another's.
- The queue bound is read and kept under an advisory lock that enqueues take in turn; claims and
  cancels need not take it, as they only ever shorten the queue.
- A cancel reads the state it changes under the row's lock, so a claim racing it either came
  first (the cancel then reaches the claiming worker on its heartbeat) or finds the job done.
- Leases and queue order are on the database's clock, not each replica's: replicas whose clocks
  disagree still agree on which job is oldest and on when a lease ran out.
"""

from __future__ import annotations

from typing import Any

import orjson
from asyncpg import Record

from parley.storage.background import Claim, EventRow, Job, JobState
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.migrations import CLOCK, Connection
from parley.storage.postgres.responses import write_response_row

_ENQUEUE_LOCK = 0x70A47E2  # pg_advisory_xact_lock's key for "checking the queue bound"
_NOW = CLOCK
_COLUMNS = "j.response_id, j.owner, j.request, j.stream, j.state"
_COUNT_QUEUED = "SELECT count(*) FROM background_jobs WHERE state = 'queued'"
_INSERT_JOB = f"""
INSERT INTO background_jobs (response_id, owner, request, stream, state, worker, lease_until, queued_at)
VALUES ($1, $2, $3, $4, $5, $6, {_NOW} + $7, {_NOW})
"""
_CLAIM = f"""
WITH picked AS (
    SELECT response_id FROM background_jobs WHERE state = 'queued'
    ORDER BY queued_at LIMIT $3 FOR UPDATE SKIP LOCKED
)
UPDATE background_jobs j SET state = 'running', worker = $1, lease_until = {_NOW} + $2
FROM picked WHERE j.response_id = picked.response_id
RETURNING {_COLUMNS}, j.queued_at
"""
_TAKE_EXPIRED = f"""
WITH expired AS (
    SELECT response_id FROM background_jobs WHERE state = 'running' AND lease_until < {_NOW}
    FOR UPDATE SKIP LOCKED
)
UPDATE background_jobs j SET worker = $1, lease_until = {_NOW} + $2
FROM expired WHERE j.response_id = expired.response_id
RETURNING {_COLUMNS}
"""
_RENEW = f"""
UPDATE background_jobs SET lease_until = {_NOW} + $2 WHERE worker = $1 AND state = 'running'
RETURNING response_id, cancel_requested
"""
_INSERT_EVENTS = """
INSERT INTO response_events (response_id, first_sequence, last_sequence, data)
SELECT $1, first, last, data FROM unnest($2::integer[], $3::integer[], $4::bytea[]) AS t (first, last, data)
ON CONFLICT DO NOTHING
"""
"""Every run of a batch in one statement; a run written already (a retried write) is kept."""
_EVENTS_AFTER = """
SELECT e.first_sequence, e.data FROM response_events e JOIN background_jobs j
    ON j.response_id = e.response_id AND j.owner = $1
WHERE e.response_id = $2 AND e.last_sequence > $3 ORDER BY e.last_sequence
"""


class PgBackgroundJobs:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def enqueue(
        self,
        job: Job,
        response: dict[str, Any],
        events: list[EventRow],
        limit: int,
        claim: Claim | None = None,
    ) -> bool:
        worker, lease = claim if claim else (None, None)
        async with self._db.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _ENQUEUE_LOCK)
            if await conn.fetchval(_COUNT_QUEUED) >= limit:
                return False
            await write_response_row(conn, response, job.owner)
            await conn.execute(
                _INSERT_JOB,
                job.response_id,
                job.owner,
                orjson.dumps(job.request),
                job.stream,
                "running" if claim else "queued",
                worker,
                lease,
            )
            await _insert_events(conn, job.response_id, events)
        return True

    async def queued(self) -> int:
        async with self._db.connection() as conn:
            return int(await conn.fetchval(_COUNT_QUEUED))

    async def claim(self, worker: str, lease: float, limit: int) -> list[Job]:
        rows = await self._db.fetch(_CLAIM, worker, lease, limit)
        return [_job(row) for row in sorted(rows, key=lambda row: row["queued_at"])]

    async def renew(self, worker: str, lease: float) -> set[str]:
        rows = await self._db.fetch(_RENEW, worker, lease)
        return {row["response_id"] for row in rows if row["cancel_requested"]}

    async def take_expired(self, worker: str, lease: float) -> list[Job]:
        return [_job(row) for row in await self._db.fetch(_TAKE_EXPIRED, worker, lease)]

    async def get(self, response_id: str, owner: str) -> Job | None:
        row = await self._db.fetchrow(
            f"SELECT {_COLUMNS} FROM background_jobs j WHERE j.response_id = $1 AND j.owner = $2",
            response_id,
            owner,
        )
        return None if row is None else _job(row)

    async def request_cancel(self, response_id: str, owner: str) -> JobState | None:
        async with self._db.transaction() as conn:
            state: JobState | None = await conn.fetchval(
                "SELECT state FROM background_jobs WHERE response_id = $1 AND owner = $2 FOR UPDATE",
                response_id,
                owner,
            )
            if state is None:
                return None
            await conn.execute(
                "UPDATE background_jobs SET cancel_requested = true, state = $2 WHERE response_id = $1",
                response_id,
                "done" if state == "queued" else state,
            )
        return state

    async def finish(
        self, response_id: str, response: dict[str, Any] | None, owner: str, events: list[EventRow]
    ) -> None:
        async with self._db.transaction() as conn:
            if response is not None:
                await write_response_row(conn, response, owner)
            await _insert_events(conn, response_id, events)
            await conn.execute(
                "UPDATE background_jobs SET state = 'done', worker = NULL, lease_until = NULL"
                " WHERE response_id = $1",
                response_id,
            )

    def append_events(self, response_id: str, events: list[EventRow]) -> None:
        async def write(conn: Connection) -> None:
            await _insert_events(conn, response_id, events)

        self._db.submit(write)

    async def events_after(self, response_id: str, owner: str, after: int) -> list[EventRow]:
        rows = await self._db.fetch(_EVENTS_AFTER, owner, response_id, after)
        return [
            (first + offset, line)
            for first, data in rows
            for offset, line in enumerate(bytes(data).split(b"\n"))
            if first + offset > after
        ]


async def _insert_events(conn: Connection, response_id: str, events: list[EventRow]) -> None:
    """One row per run of consecutive sequence numbers (a batch is one run), as on SQLite."""
    runs: list[list[EventRow]] = []
    for event in sorted(events):
        if runs and runs[-1][-1][0] + 1 == event[0]:
            runs[-1].append(event)
        else:
            runs.append([event])
    if runs:
        await conn.execute(
            _INSERT_EVENTS,
            response_id,
            [run[0][0] for run in runs],
            [run[-1][0] for run in runs],
            [b"\n".join(data for _, data in run) for run in runs],
        )


def _job(row: Record) -> Job:
    return Job(row["response_id"], row["owner"], orjson.loads(row["request"]), row["stream"], row["state"])

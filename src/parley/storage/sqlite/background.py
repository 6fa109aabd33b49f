"""Background jobs and kept stream events in SQLite.

A claim is one ``UPDATE ... RETURNING`` on the single writer thread, so two workers never take
the same job; PostgreSQL does the same with ``FOR UPDATE SKIP LOCKED``. Leases are wall-clock
deadlines (``lease_until``), renewed by the worker's heartbeat.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import orjson

from parley.storage.background import Claim, EventRow, Job, JobState
from parley.storage.sqlite.database import Database, transaction
from parley.storage.sqlite.responses import write_response_row

_COLUMNS = "response_id, owner, request, stream, state"
_COUNT_QUEUED = "SELECT count(*) FROM background_jobs WHERE state = 'queued'"
_INSERT_EVENTS = (
    "INSERT OR IGNORE INTO response_events (response_id, first_sequence, last_sequence, data)"
    " VALUES (?, ?, ?, ?)"
)


class SqliteBackgroundJobs:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(
        self,
        job: Job,
        response: dict[str, Any],
        events: list[EventRow],
        limit: int,
        claim: Claim | None = None,
    ) -> bool:
        now = time.time()
        worker, lease_until = (claim[0], now + claim[1]) if claim else (None, None)
        state = "running" if claim else "queued"
        row = (
            job.response_id,
            job.owner,
            orjson.dumps(job.request),
            int(job.stream),
            state,
            worker,
            lease_until,
            now,
        )

        def write(conn: sqlite3.Connection) -> bool:
            if conn.execute(_COUNT_QUEUED).fetchone()[0] >= limit:
                return False
            write_response_row(conn, response, job.owner)
            conn.execute(
                "INSERT INTO background_jobs"
                " (response_id, owner, request, stream, state, worker, lease_until, queued_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            _insert_events(conn, job.response_id, events)
            return True

        return await self._db.run(lambda conn: transaction(conn, write))

    async def queued(self) -> int:
        row = await self._db.run(lambda conn: conn.execute(_COUNT_QUEUED).fetchone())
        return int(row[0])

    async def claim(self, worker: str, lease: float, limit: int) -> list[Job]:
        sql = (
            "UPDATE background_jobs SET state = 'running', worker = ?, lease_until = ? WHERE response_id IN"
            " (SELECT response_id FROM background_jobs WHERE state = 'queued' ORDER BY queued_at LIMIT ?)"
            f" RETURNING {_COLUMNS}, queued_at"
        )
        params = (worker, time.time() + lease, limit)
        rows = await self._db.run(lambda conn: transaction(conn, lambda c: c.execute(sql, params).fetchall()))
        return [_job(row) for row in sorted(rows, key=lambda row: row[-1])]

    async def renew(self, worker: str, lease: float) -> set[str]:
        sql = (
            "UPDATE background_jobs SET lease_until = ? WHERE worker = ? AND state = 'running'"
            " RETURNING response_id, cancel_requested"
        )
        params = (time.time() + lease, worker)
        rows = await self._db.run(lambda conn: transaction(conn, lambda c: c.execute(sql, params).fetchall()))
        return {response_id for response_id, cancel in rows if cancel}

    async def take_expired(self, worker: str, lease: float) -> list[Job]:
        now = time.time()
        sql = (
            "UPDATE background_jobs SET worker = ?, lease_until = ?"
            f" WHERE state = 'running' AND lease_until < ? RETURNING {_COLUMNS}"
        )
        params = (worker, now + lease, now)
        rows = await self._db.run(lambda conn: transaction(conn, lambda c: c.execute(sql, params).fetchall()))
        return [_job(row) for row in rows]

    async def get(self, response_id: str, owner: str) -> Job | None:
        sql = f"SELECT {_COLUMNS} FROM background_jobs WHERE response_id = ? AND owner = ?"
        row = await self._db.run(lambda conn: conn.execute(sql, (response_id, owner)).fetchone())
        return None if row is None else _job(row)

    async def request_cancel(self, response_id: str, owner: str) -> JobState | None:
        def write(conn: sqlite3.Connection) -> JobState | None:
            row = conn.execute(
                "SELECT state FROM background_jobs WHERE response_id = ? AND owner = ?", (response_id, owner)
            ).fetchone()
            if row is None:
                return None
            state: JobState = row[0]
            done = "done" if state == "queued" else state
            conn.execute(
                "UPDATE background_jobs SET cancel_requested = 1, state = ? WHERE response_id = ?",
                (done, response_id),
            )
            return state

        return await self._db.run(lambda conn: transaction(conn, write))

    async def finish(
        self, response_id: str, response: dict[str, Any] | None, owner: str, events: list[EventRow]
    ) -> None:
        def write(conn: sqlite3.Connection) -> None:
            if response is not None:
                write_response_row(conn, response, owner)
            _insert_events(conn, response_id, events)
            conn.execute(
                "UPDATE background_jobs SET state = 'done', worker = NULL, lease_until = NULL"
                " WHERE response_id = ?",
                (response_id,),
            )

        await self._db.run(lambda conn: transaction(conn, write))

    def append_events(self, response_id: str, events: list[EventRow]) -> None:
        self._db.submit(lambda conn: transaction(conn, lambda c: _insert_events(c, response_id, events)))

    async def events_after(self, response_id: str, owner: str, after: int) -> list[EventRow]:
        sql = (
            "SELECT e.first_sequence, e.data FROM response_events e JOIN background_jobs j"
            " ON j.response_id = e.response_id AND j.owner = ?"
            " WHERE e.response_id = ? AND e.last_sequence > ? ORDER BY e.last_sequence"
        )
        rows = await self._db.run(lambda conn: conn.execute(sql, (owner, response_id, after)).fetchall())
        return [
            (first + offset, line)
            for first, data in rows
            for offset, line in enumerate(bytes(data).split(b"\n"))
            if first + offset > after
        ]


def _insert_events(conn: sqlite3.Connection, response_id: str, events: list[EventRow]) -> None:
    """One row per run of consecutive sequence numbers (a batch is one run)."""
    runs: list[list[EventRow]] = []
    for event in sorted(events):
        if runs and runs[-1][-1][0] + 1 == event[0]:
            runs[-1].append(event)
        else:
            runs.append([event])
    rows = [(response_id, run[0][0], run[-1][0], b"\n".join(data for _, data in run)) for run in runs]
    conn.executemany(_INSERT_EVENTS, rows)


def _job(row: tuple[Any, ...]) -> Job:
    response_id, owner, request, stream, state = row[:5]
    return Job(response_id, owner, orjson.loads(request), bool(stream), state)

"""The background job store on each backend: claims under a lease never overlap, a lease that runs
out lets another worker settle the job, cancels reach the worker, and every lookup is scoped by
owner. On PostgreSQL, the same across replicas (each its own pool) racing at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from parley.storage.background import BackgroundJobs, Job, JobState
from parley.storage.postgres import PgBackgroundJobs, PgDatabase
from parley.storage.sqlite import Database
from parley.storage.sqlite.background import SqliteBackgroundJobs
from tests.storage.conftest import Backend
from tests.support.postgres import fresh_schema


def queued(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "object": "response", "created_at": 1, "status": "queued",
            "previous_response_id": None, "output": []}  # fmt: skip


async def enqueue(jobs: BackgroundJobs, response_id: str, owner: str = "alice") -> None:
    job = Job(response_id, owner, {"model": "m", "input": response_id}, stream=True)
    assert await jobs.enqueue(job, queued(response_id), [(0, b'{"type":"response.created"}')], limit=100)


@pytest.fixture
def store(database: Database | PgDatabase) -> BackgroundJobs:
    if isinstance(database, PgDatabase):
        return PgBackgroundJobs(database)
    return SqliteBackgroundJobs(database)


async def test_claims_take_the_oldest_first_and_never_the_same_job_twice(store: BackgroundJobs) -> None:
    for n in range(5):
        await enqueue(store, f"resp_{n}")
    assert await store.queued() == 5
    first = await store.claim("w1", 30, 3)
    assert [job.response_id for job in first] == ["resp_0", "resp_1", "resp_2"]
    assert first[0].request == {"model": "m", "input": "resp_0"}
    assert first[0].stream
    assert first[0].state == "running"
    second, third = await asyncio.gather(store.claim("w2", 30, 3), store.claim("w3", 30, 3))
    assert sorted(job.response_id for job in second + third) == ["resp_3", "resp_4"]
    assert await store.queued() == 0
    assert await store.claim("w4", 30, 3) == []


async def test_a_lease_kept_alive_stays_and_one_that_ran_out_goes_to_whoever_settles_it(
    store: BackgroundJobs,
) -> None:
    await enqueue(store, "resp_kept")
    await enqueue(store, "resp_lost")
    await store.claim("alive", 0.05, 1)
    await store.claim("dead", 0.05, 1)
    await asyncio.sleep(0.03)
    assert await store.renew("alive", 30) == set()
    await asyncio.sleep(0.05)
    expired = await store.take_expired("settler", 30)
    assert [job.response_id for job in expired] == ["resp_lost"]
    assert await store.take_expired("another", 30) == []  # taken once


async def test_a_cancel_reaches_the_worker_on_its_heartbeat_and_a_queued_job_is_done_at_once(
    store: BackgroundJobs,
) -> None:
    await enqueue(store, "resp_running")
    await enqueue(store, "resp_waiting")
    await store.claim("w", 30, 1)
    assert await store.request_cancel("resp_running", "alice") == "running"
    assert await store.renew("w", 30) == {"resp_running"}
    assert await store.request_cancel("resp_waiting", "alice") == "queued"
    waiting = await store.get("resp_waiting", "alice")
    assert waiting is not None
    assert waiting.state == "done"
    assert await store.claim("w", 30, 5) == []


async def test_events_are_kept_in_order_and_finish_writes_the_last_with_the_response(
    store: BackgroundJobs, backend: Backend
) -> None:
    await enqueue(store, "resp_1")
    store.append_events("resp_1", [(2, b"two"), (1, b"one")])
    await store.finish("resp_1", {**queued("resp_1"), "status": "failed"}, "alice", [(3, b"three")])
    assert await store.events_after("resp_1", "alice", 0) == [(1, b"one"), (2, b"two"), (3, b"three")]
    assert await store.events_after("resp_1", "alice", 2) == [(3, b"three")]
    done = await store.get("resp_1", "alice")
    assert done is not None
    assert done.state == "done"
    response = await backend.responses.get("resp_1", "alice")
    assert response is not None
    assert response["status"] == "failed"


async def test_another_owners_job_is_as_good_as_missing(store: BackgroundJobs) -> None:
    await enqueue(store, "resp_private", owner="alice")
    assert await store.get("resp_private", "mallory") is None
    assert await store.events_after("resp_private", "mallory", -1) == []
    assert await store.request_cancel("resp_private", "mallory") is None
    job = await store.get("resp_private", "alice")
    assert job is not None
    assert job.state == "queued"


async def test_the_queue_bound_holds_however_many_enqueue_at_once(store: BackgroundJobs) -> None:
    made = [
        store.enqueue(Job(f"resp_{n}", "alice", {}, stream=False), queued(f"resp_{n}"), [], limit=3)
        for n in range(10)
    ]
    assert sorted(await asyncio.gather(*made)) == [False] * 7 + [True] * 3
    assert await store.queued() == 3


async def test_a_job_claimed_as_it_is_enqueued_runs_at_once_and_does_not_count_as_queued(
    store: BackgroundJobs,
) -> None:
    job = Job("resp_here", "alice", {}, stream=False)
    assert await store.enqueue(job, queued("resp_here"), [], limit=1, claim=("w", 30))
    assert await store.queued() == 0
    assert await store.claim("other", 30, 5) == []
    running = await store.get("resp_here", "alice")
    assert running is not None
    assert running.state == "running"
    assert await store.request_cancel("resp_here", "alice") == "running"
    assert await store.renew("w", 30) == {"resp_here"}


async def test_a_batch_is_one_row_and_reads_back_event_by_event(
    store: BackgroundJobs, backend: Backend
) -> None:
    await enqueue(store, "resp_1")
    store.append_events("resp_1", [(1, b"a"), (2, b"b"), (3, b"c"), (5, b"e")])
    assert await store.events_after("resp_1", "alice", 1) == [(2, b"b"), (3, b"c"), (5, b"e")]
    assert await backend.count("response_events") == 3  # [0], [1..3], [5]


# PostgreSQL: replicas, each with its own pool of connections, on one database.

REPLICAS = 3


@pytest.fixture
async def replicas(postgres_url: str) -> AsyncIterator[list[PgBackgroundJobs]]:
    async with fresh_schema(postgres_url) as url:
        databases = [await PgDatabase.open(url) for _ in range(REPLICAS)]
        yield [PgBackgroundJobs(database) for database in databases]
        for database in databases:
            await database.aclose()


async def test_claims_racing_on_every_replica_take_each_job_exactly_once(
    replicas: list[PgBackgroundJobs],
) -> None:
    ids = [f"resp_{n:02}" for n in range(40)]
    for response_id in ids:
        await enqueue(replicas[0], response_id)
    claimed = await asyncio.gather(*(replicas[n % REPLICAS].claim(f"w{n}", 30, 2) for n in range(30)))
    taken = [job.response_id for batch in claimed for job in batch]
    while batch := await replicas[1].claim("late", 30, 100):  # SKIP LOCKED may leave a few behind
        taken += [job.response_id for job in batch]
    assert sorted(taken) == ids  # every job, none twice
    assert await replicas[2].queued() == 0


async def test_jobs_of_a_replica_that_died_are_taken_over_once_and_its_late_heartbeat_keeps_none(
    replicas: list[PgBackgroundJobs],
) -> None:
    dead, *survivors = replicas
    for n in range(6):
        await enqueue(dead, f"resp_{n}")
    assert len(await dead.claim("dead", 0.05, 6)) == 6
    await asyncio.sleep(0.1)
    settlers = [f"settler{n}" for n in range(10)]
    taken = await asyncio.gather(
        *(survivors[n % 2].take_expired(settler, 30) for n, settler in enumerate(settlers))
    )
    assert sorted(job.response_id for batch in taken for job in batch) == [f"resp_{n}" for n in range(6)]
    assert await dead.renew("dead", 30) == set()  # too late: leased to their settlers now
    assert await survivors[0].take_expired("another", 30) == []
    settler, batch = next((settler, batch) for settler, batch in zip(settlers, taken, strict=True) if batch)
    assert await dead.request_cancel(batch[0].response_id, "alice") == "running"
    assert batch[0].response_id in await survivors[1].renew(settler, 30)


async def test_a_cancel_racing_a_claim_is_either_before_it_or_reaches_its_worker(
    replicas: list[PgBackgroundJobs],
) -> None:
    ids = [f"resp_{n:02}" for n in range(20)]
    for response_id in ids:
        await enqueue(replicas[0], response_id)
    claims: dict[str, asyncio.Task[list[Job]]] = {}
    cancels: dict[str, asyncio.Task[JobState | None]] = {}
    for n, response_id in enumerate(ids):  # both sweep the queue from its oldest end
        cancels[response_id] = asyncio.create_task(replicas[2].request_cancel(response_id, "alice"))
        if n % 2 == 0:
            claims[f"w{n}"] = asyncio.create_task(replicas[n // 2 % 2].claim(f"w{n}", 30, 2))
    await asyncio.gather(*claims.values(), *cancels.values())
    workers = {job.response_id: worker for worker, claim in claims.items() for job in claim.result()}
    for response_id, cancel in cancels.items():
        assert (cancel.result() == "queued") == (
            response_id not in workers
        )  # cancelled in the queue: never run
    for response_id, worker in workers.items():
        assert response_id in await replicas[1].renew(worker, 30)


async def test_a_stream_running_on_one_replica_is_read_on_another_from_any_sequence(
    replicas: list[PgBackgroundJobs],
) -> None:
    runner, reader = replicas[0], replicas[1]
    job = Job("resp_1", "alice", {}, stream=True)
    assert await runner.enqueue(job, queued("resp_1"), [(0, b"created"), (1, b"queued")], 10, ("w", 30))
    runner.append_events("resp_1", [(2, b"a"), (3, b"b")])
    runner.append_events("resp_1", [(4, b"c")])
    assert await runner.queued() == 0  # a read on the runner: its queued writes are in
    assert await reader.events_after("resp_1", "alice", 2) == [(3, b"b"), (4, b"c")]
    assert await reader.events_after("resp_1", "bob", 2) == []
    running = await reader.get("resp_1", "alice")
    assert running is not None
    assert running.state == "running"
    await runner.finish("resp_1", None, "alice", [(5, b"done")])
    assert await reader.events_after("resp_1", "alice", 3) == [(4, b"c"), (5, b"done")]

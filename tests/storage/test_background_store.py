"""The background job store on a real SQLite file: claims under a lease never overlap, a lease
that runs out lets another worker settle the job, cancels reach the worker, and every lookup is
scoped by owner."""

from __future__ import annotations

import asyncio
from typing import Any

from parley.storage.background import Job
from parley.storage.sqlite import Database
from parley.storage.sqlite.background import SqliteBackgroundJobs


def queued(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "object": "response", "created_at": 1, "status": "queued",
            "previous_response_id": None, "output": []}  # fmt: skip


async def enqueue(jobs: SqliteBackgroundJobs, response_id: str, owner: str = "alice") -> None:
    job = Job(response_id, owner, {"model": "m", "input": response_id}, stream=True)
    assert await jobs.enqueue(job, queued(response_id), [(0, b'{"type":"response.created"}')], limit=10)


async def test_claims_take_the_oldest_first_and_never_the_same_job_twice(db: Database) -> None:
    jobs = SqliteBackgroundJobs(db)
    for n in range(5):
        await enqueue(jobs, f"resp_{n}")
    assert await jobs.queued() == 5
    first, second = await asyncio.gather(jobs.claim("w1", 30, 3), jobs.claim("w2", 30, 3))
    assert [job.response_id for job in first] == ["resp_0", "resp_1", "resp_2"]
    assert [job.response_id for job in second] == ["resp_3", "resp_4"]
    assert first[0].request == {"model": "m", "input": "resp_0"}
    assert first[0].stream
    assert first[0].state == "running"
    assert await jobs.queued() == 0
    assert await jobs.claim("w3", 30, 3) == []


async def test_a_lease_kept_alive_stays_and_one_that_ran_out_goes_to_whoever_settles_it(db: Database) -> None:
    jobs = SqliteBackgroundJobs(db)
    await enqueue(jobs, "resp_kept")
    await enqueue(jobs, "resp_lost")
    await jobs.claim("alive", 0.05, 1)
    await jobs.claim("dead", 0.05, 1)
    await asyncio.sleep(0.03)
    assert await jobs.renew("alive", 30) == set()
    await asyncio.sleep(0.05)
    expired = await jobs.take_expired("settler", 30)
    assert [job.response_id for job in expired] == ["resp_lost"]
    assert await jobs.take_expired("another", 30) == []  # taken once


async def test_a_cancel_reaches_the_worker_on_its_heartbeat_and_a_queued_job_is_done_at_once(
    db: Database,
) -> None:
    jobs = SqliteBackgroundJobs(db)
    await enqueue(jobs, "resp_running")
    await enqueue(jobs, "resp_waiting")
    await jobs.claim("w", 30, 1)
    assert await jobs.request_cancel("resp_running", "alice") == "running"
    assert await jobs.renew("w", 30) == {"resp_running"}
    assert await jobs.request_cancel("resp_waiting", "alice") == "queued"
    waiting = await jobs.get("resp_waiting", "alice")
    assert waiting is not None
    assert waiting.state == "done"
    assert await jobs.claim("w", 30, 5) == []


async def test_events_are_kept_in_order_and_finish_writes_the_last_with_the_response(db: Database) -> None:
    jobs = SqliteBackgroundJobs(db)
    await enqueue(jobs, "resp_1")
    jobs.append_events("resp_1", [(2, b"two"), (1, b"one")])
    await jobs.finish("resp_1", {**queued("resp_1"), "status": "failed"}, "alice", [(3, b"three")])
    assert await jobs.events_after("resp_1", "alice", 0) == [(1, b"one"), (2, b"two"), (3, b"three")]
    assert await jobs.events_after("resp_1", "alice", 2) == [(3, b"three")]
    done = await jobs.get("resp_1", "alice")
    assert done is not None
    assert done.state == "done"
    status = await db.run(lambda c: c.execute("SELECT status FROM responses WHERE id = 'resp_1'").fetchone())
    assert status == ("failed",)


async def test_another_owners_job_is_as_good_as_missing(db: Database) -> None:
    jobs = SqliteBackgroundJobs(db)
    await enqueue(jobs, "resp_private", owner="alice")
    assert await jobs.get("resp_private", "mallory") is None
    assert await jobs.events_after("resp_private", "mallory", -1) == []
    assert await jobs.request_cancel("resp_private", "mallory") is None
    job = await jobs.get("resp_private", "alice")
    assert job is not None
    assert job.state == "queued"


async def test_the_queue_bound_holds_however_many_enqueue_at_once(db: Database) -> None:
    jobs = SqliteBackgroundJobs(db)
    made = [
        jobs.enqueue(Job(f"resp_{n}", "alice", {}, stream=False), queued(f"resp_{n}"), [], limit=3)
        for n in range(10)
    ]
    assert sorted(await asyncio.gather(*made)) == [False] * 7 + [True] * 3
    assert await jobs.queued() == 3


async def test_a_batch_is_one_row_and_reads_back_event_by_event(db: Database) -> None:
    jobs = SqliteBackgroundJobs(db)
    await enqueue(jobs, "resp_1")
    jobs.append_events("resp_1", [(1, b"a"), (2, b"b"), (3, b"c"), (5, b"e")])
    rows = await db.run(lambda c: c.execute("SELECT count(*) FROM response_events").fetchone())
    assert rows == (3,)  # [0], [1..3], [5]
    assert await jobs.events_after("resp_1", "alice", 1) == [(2, b"b"), (3, b"c"), (5, b"e")]

"""A server restart never leaves a background response stuck: what was queued runs in the next
process, what was running ends failed with the reason, and a stream's readers see it end."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson

from parley.storage.background import BackgroundJobs, Job
from parley.storage.postgres import PgBackgroundJobs, PgDatabase
from parley.storage.sqlite import Database
from parley.storage.sqlite.background import SqliteBackgroundJobs
from parley.testing.fake_upstream import Reply
from tests.api.test_background import collect, finished, poll


async def test_responses_queued_when_the_server_stopped_run_in_the_next_one(harness_factory: Any) -> None:
    first = harness_factory([], max_background=0)
    ids = [(await first.create(input="Job", background=True)).json()["id"]]
    body = {"model": "fake-model", "input": "Job", "background": True, "stream": True}
    post = asyncio.create_task(first.client.post("/v1/responses", json=body))  # its stream waits for a worker
    while len(listed := (await first.client.get("/v1/responses")).json()["data"]) < 2:
        await asyncio.sleep(0.01)
    ids.append(listed[0]["id"])
    post.cancel()
    await first.aclose()

    second = harness_factory([Reply(text="ran after the restart")] * 2)
    await second.app.state.background.start()  # what the lifespan does
    for response_id in ids:
        done = await poll(second, response_id, finished)
        assert done["status"] == "completed"
        assert done["output"][0]["content"][0]["text"] == "ran after the restart"
    events = await collect(second, f"/v1/responses/{ids[1]}?stream=true")
    kinds = [event["type"] for event in events]
    assert kinds[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    deleted = await second.client.delete(f"/v1/responses/{ids[1]}")
    assert deleted.status_code == 200
    assert (await second.client.get(f"/v1/responses/{ids[1]}?stream=true")).status_code == 404


async def test_a_shutdown_mid_response_stores_it_failed_and_ends_its_stream(harness_factory: Any) -> None:
    first = harness_factory([Reply(text="word " * 500, token_delay=0.01)])
    body = {"model": "fake-model", "input": "Talk.", "background": True, "stream": True}
    post = asyncio.create_task(first.client.post("/v1/responses", json=body))
    await asyncio.sleep(0.3)
    response_id = (await first.client.get("/v1/responses?limit=1")).json()["data"][0]["id"]
    await poll(first, response_id, lambda r: r["status"] == "in_progress")
    await first.aclose()
    post.cancel()

    second = harness_factory([])
    stored = (await second.client.get(f"/v1/responses/{response_id}")).json()
    assert stored["status"] == "failed"
    assert stored["error"]["message"] == "The server shut down before the response finished."
    events = await collect(second, f"/v1/responses/{response_id}?stream=true")
    assert events[-1]["type"] == "response.failed"
    assert [event["sequence_number"] for event in events] == list(range(len(events)))


async def test_a_response_whose_worker_died_is_settled_failed_with_the_reason(
    harness_factory: Any, tmp_path: Path, harness_database: str | None
) -> None:
    database: Database | PgDatabase
    jobs: BackgroundJobs
    if harness_database is None:
        database = Database(tmp_path / "parley.db")
        jobs = SqliteBackgroundJobs(database)
    else:
        database = await PgDatabase.open(harness_database)
        jobs = PgBackgroundJobs(database)
    response = {
        "id": "resp_orphan",
        "object": "response",
        "created_at": int(time.time()),
        "status": "in_progress",
        "background": True,
        "previous_response_id": None,
        "output": [],
        "error": None,
    }
    created = {"type": "response.created", "sequence_number": 0, "response": response}
    job = Job("resp_orphan", "anonymous", {"model": "fake-model", "input": "x"}, stream=True)
    assert await jobs.enqueue(job, response, [(0, orjson.dumps(created))], limit=10)
    assert [claimed.response_id for claimed in await jobs.claim("a-dead-worker", 0.01, 5)] == ["resp_orphan"]
    await database.aclose()
    await asyncio.sleep(0.02)  # the lease runs out: its worker is gone

    h = harness_factory([])
    await h.app.state.background.start()
    stored = (await h.client.get("/v1/responses/resp_orphan")).json()
    assert stored["status"] == "failed"
    assert "stopped before it finished" in stored["error"]["message"]
    events = await collect(h, "/v1/responses/resp_orphan?stream=true")
    assert [event["type"] for event in events] == ["response.created", "response.failed"]
    assert events[-1]["sequence_number"] == 1

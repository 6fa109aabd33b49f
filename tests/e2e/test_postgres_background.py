"""A background response outlives the replica that took it (issue 19): two ``parley serve`` over one
PostgreSQL, the one that took the response killed with SIGKILL, and a stream reader on the other.

What the other replica makes of it depends on how far the dead one got:
- queued, not started (the dead replica had no room): the job is the queue's, not the replica's, so
  the other claims it when it has room and runs it to the end; its reader sees every event from
  ``response.created`` to ``response.completed``, sequence numbers 0..n;
- running: the turn's state died with its process, so it is not run again (that would call the
  provider a second time and contradict what was streamed); once the dead replica's lease runs out
  the other settles it ``failed``, with the reason, and its reader sees the events that were kept,
  then ``response.failed`` numbered next, with neither a gap nor a repeat.

The lease is short here (``--background-lease``) so that a dead replica's job is settled in seconds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx2
import orjson
import pytest

from parley.engine.jobs import WORKER_GONE
from parley.testing.fake_upstream import Reply
from tests.e2e.conftest import MODEL, ScriptedUpstream
from tests.support.postgres import fresh_schema
from tests.support.workers import Connection, WorkerServer, children, parley_workers

Json = dict[str, Any]
LEASE = 3.0
"""Seconds of a replica's claim: a killed replica's running job is settled within about 4/3 of it."""
WAIT = 30.0
"""Seconds any one step may take before the test gives up (a loaded machine is slow, not broken)."""


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    schema = fresh_schema(postgres_url)
    url = asyncio.run(schema.__aenter__())
    yield url
    asyncio.run(schema.__aexit__(None, None, None))


@pytest.fixture
def replicas(
    upstream: ScriptedUpstream, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerServer, WorkerServer]]:
    """A fresh pair per test, each running one background response at a time (the rest queue), as
    the test kills one of them."""
    flags = ("--database-url", database_url, "--background-lease", str(LEASE), "--max-background", "1")
    base = tmp_path_factory.mktemp("background-replicas")
    with (
        parley_workers(1, upstream.base_url, base / "a", *flags) as a,
        parley_workers(1, upstream.base_url, base / "b", *flags) as b,
    ):
        yield a, b


@pytest.fixture
def readers() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reader") as pool:
        yield pool


def _start_background(server: WorkerServer, text: str) -> Json:
    """A background stream's response as ``response.created`` carries it; the job runs on without
    the connection, which is closed."""
    body = {"model": MODEL, "input": text, "background": True, "stream": True}
    url = f"http://127.0.0.1:{server.port}/v1/responses"
    with httpx2.Client(timeout=WAIT) as client, client.stream("POST", url, json=body) as answer:
        assert answer.status_code == 200, answer.read()
        for line in answer.iter_lines():
            if line.startswith("data: "):
                created: Json = orjson.loads(line[6:])
                assert created["type"] == "response.created"
                return dict(created["response"])
    raise AssertionError("the stream ended before response.created")


def _follow(server: WorkerServer, response_id: str, seen: list[Json]) -> list[Json]:
    """``GET ?stream=true`` from the start to its end; ``seen`` grows as events arrive."""
    url = f"http://127.0.0.1:{server.port}/v1/responses/{response_id}?stream=true"
    with httpx2.Client(timeout=WAIT) as client, client.stream("GET", url) as answer:
        assert answer.status_code == 200, answer.read()
        for line in answer.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                seen.append(orjson.loads(line[6:]))
    return seen


def _kill(server: WorkerServer) -> None:
    """SIGKILL: no shutdown runs, so nothing is settled and no lease is given back."""
    for pid in [*children(server.process.pid), server.process.pid]:
        os.kill(pid, signal.SIGKILL)
    server.process.wait(timeout=WAIT)


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"waited {WAIT} s for {what}"
        time.sleep(0.05)


def _retrieve(server: WorkerServer, response_id: str) -> Json:
    connection = Connection(server.port)
    try:
        status, response = connection.request("GET", f"/v1/responses/{response_id}")
    finally:
        connection.close()
    assert status == 200, response
    return response


def _numbered_from_zero(events: list[Json]) -> list[str]:
    """The events' types, once each sequence number 0..n is checked to come once and in order."""
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    return [event["type"] for event in events]


def test_a_job_queued_on_a_killed_replica_is_run_to_its_end_by_the_other(
    replicas: tuple[WorkerServer, WorkerServer], upstream: ScriptedUpstream, readers: ThreadPoolExecutor
) -> None:
    a, b = replicas
    upstream.script(
        Reply(text="word " * 20, token_delay=0.25),  # keeps b busy while a is killed
        Reply(text="word " * 200, token_delay=0.2),  # keeps a busy until it is killed
        Reply(text="Finished on the other replica."),
    )
    _start_background(b, "Busy b.")
    _until(lambda: len(upstream.requests) == 1, "b to start its own job")
    _start_background(a, "Busy a.")
    _until(lambda: len(upstream.requests) == 2, "a to start its first job")
    queued = _start_background(a, "Run me.")
    assert _retrieve(b, queued["id"])["status"] == "queued"  # a had no room: it waits in the shared queue
    seen: list[Json] = []
    reader: Future[list[Json]] = readers.submit(_follow, b, queued["id"], seen)
    _until(lambda: len(seen) == 2, "b's reader to read the queued stream's first events")
    assert len(upstream.requests) == 2, "nobody may have started the queued job before a dies"
    _kill(a)

    events = reader.result(timeout=WAIT)
    types = _numbered_from_zero(events)
    assert types[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert types[-1] == "response.completed"
    text = "".join(event["delta"] for event in events if event["type"] == "response.output_text.delta")
    assert text == "Finished on the other replica."
    assert upstream.requests[2]["messages"][-1]["content"] == "Run me."
    finished = _retrieve(b, queued["id"])
    assert finished["status"] == "completed"
    assert finished["output"][0]["content"][0]["text"] == "Finished on the other replica."


def test_a_job_running_on_a_killed_replica_is_settled_failed_by_the_other(
    replicas: tuple[WorkerServer, WorkerServer], upstream: ScriptedUpstream, readers: ThreadPoolExecutor
) -> None:
    a, b = replicas
    upstream.script(Reply(text="word " * 200, token_delay=0.1))
    running = _start_background(a, "Take your time.")
    seen: list[Json] = []
    reader: Future[list[Json]] = readers.submit(_follow, b, running["id"], seen)
    _until(
        lambda: any(event["type"] == "response.output_text.delta" for event in seen),
        "b's reader to follow a's run",
    )
    _kill(a)
    killed_at = time.monotonic()

    events = reader.result(timeout=WAIT)
    types = _numbered_from_zero(events)
    assert types[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert "response.output_text.delta" in types
    assert types[-1] == "response.failed"
    assert types.count("response.failed") == 1
    assert events[-1]["response"]["error"] == {"code": "server_error", "message": WORKER_GONE}
    assert time.monotonic() - killed_at < 3 * LEASE  # settled once the lease ran out, not later
    failed = _retrieve(b, running["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "server_error", "message": WORKER_GONE}
    assert len(upstream.requests) == 1  # not run again: the provider was asked once

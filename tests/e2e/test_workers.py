"""``parley serve --workers 2``: what holds in one process holds across its worker processes, over
either backend (SQLite in the data dir; PostgreSQL).

A real ``parley serve --workers 2`` on loopback, in front of the session's scripted upstream; each
step runs on a connection pinned to a chosen worker (``tests/support/workers.py``)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from parley.engine.live import WORKER_DIED
from parley.testing.fake_upstream import Reply
from tests.e2e.conftest import MODEL, ScriptedUpstream
from tests.support.postgres import fresh_schema_outside_a_loop
from tests.support.workers import Connection, WorkerServer, ingested, parley_workers, search_store

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pins workers through procfs")


@pytest.fixture(scope="module")
def module_upstream(scripted_upstream: ScriptedUpstream) -> ScriptedUpstream:
    return scripted_upstream


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest,
    module_upstream: ScriptedUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WorkerServer]:
    """Every case on each backend: the data dir's SQLite, and PostgreSQL (a schema of its own)."""
    data = tmp_path_factory.mktemp("workers") / "data"
    with contextlib.ExitStack() as stack:
        flags: tuple[str, ...] = ()
        if request.param == "postgres":
            url = stack.enter_context(fresh_schema_outside_a_loop(request.getfixturevalue("postgres_url")))
            flags = ("--database-url", url)
        yield stack.enter_context(parley_workers(2, module_upstream.base_url, data, *flags))


@pytest.fixture
def pair(server: WorkerServer, upstream: ScriptedUpstream) -> tuple[Connection, Connection]:
    one, other = server.pin(2)
    return one, other


def _create(connection: Connection, **body: object) -> dict[str, object]:
    status, response = connection.request("POST", "/v1/responses", {"model": MODEL, **body})
    assert status == 200, response
    return response


def test_a_response_made_on_one_worker_is_read_continued_and_deleted_on_the_other(
    pair: tuple[Connection, Connection], upstream: ScriptedUpstream
) -> None:
    one, other = pair
    upstream.script(Reply(text="Blue."), Reply(text="You said blue."), Reply(text="Again."))
    first = _create(one, input="My favourite colour is blue.")
    assert other.request("GET", f"/v1/responses/{first['id']}") == (200, first)
    second = _create(other, input="What did I say?", previous_response_id=first["id"])
    sent = upstream.requests[-1]["messages"]
    assert [m["content"] for m in sent] == ["My favourite colour is blue.", "Blue.", "What did I say?"]
    assert one.request("GET", f"/v1/responses/{second['id']}")[1]["output"] == second["output"]
    assert other.request("DELETE", f"/v1/responses/{first['id']}")[0] == 200
    assert one.request("GET", f"/v1/responses/{first['id']}")[0] == 404
    status, error = one.request(
        "POST", "/v1/responses", {"model": MODEL, "input": "More.", "previous_response_id": first["id"]}
    )
    assert status == 400
    assert error["error"]["param"] == "previous_response_id"


def test_a_stale_chain_cache_cannot_serve_a_response_another_worker_deleted(
    pair: tuple[Connection, Connection], upstream: ScriptedUpstream
) -> None:
    one, other = pair
    upstream.script(Reply(text="One."), Reply(text="Two."), Reply(text="Three."))
    first = _create(one, input="Start.")
    _create(other, input="Go on.", previous_response_id=first["id"])  # the other caches the chain
    assert one.request("DELETE", f"/v1/responses/{first['id']}")[0] == 200
    status, error = other.request(
        "POST", "/v1/responses", {"model": MODEL, "input": "And?", "previous_response_id": first["id"]}
    )
    assert status == 400, error
    assert "not found" in error["error"]["message"]
    assert upstream.unused == 1  # the third answer was never asked for


def test_a_streaming_response_is_in_progress_on_every_worker_from_its_first_event(
    pair: tuple[Connection, Connection], upstream: ScriptedUpstream
) -> None:
    one, other = pair
    upstream.script(Reply(text=" ".join(["word"] * 30), token_delay=0.03))
    events = one.stream({"model": MODEL, "input": "Talk slowly."})
    created = next(events)
    assert created["type"] == "response.created"
    response_id = created["response"]["id"]
    status, seen = other.request("GET", f"/v1/responses/{response_id}")
    assert status == 200
    assert seen["status"] == "in_progress"
    status, _error = other.request(
        "POST", "/v1/responses", {"model": MODEL, "input": "x", "previous_response_id": response_id}
    )
    assert status == 400  # not continued before it is stored whole
    assert other.request("DELETE", f"/v1/responses/{response_id}")[0] == 404  # nor deleted
    *_, last = events
    assert last["type"] == "response.completed"
    status, stored = other.request("GET", f"/v1/responses/{response_id}")
    assert stored["status"] == "completed"
    assert stored["output"] == last["response"]["output"]


def test_responses_on_one_conversation_take_turns_across_workers(
    pair: tuple[Connection, Connection], upstream: ScriptedUpstream
) -> None:
    one, other = pair
    status, conversation = one.request("POST", "/v1/conversations", {})
    assert status == 200
    upstream.script(Reply(text="First " * 10, token_delay=0.02), Reply(text="Second."))
    events = one.stream({"model": MODEL, "input": "One.", "conversation": conversation["id"]})
    assert next(events)["type"] == "response.created"  # the first holds the conversation now
    answers: list[dict[str, object]] = []
    racer = threading.Thread(
        target=lambda: answers.append(_create(other, input="Two.", conversation=conversation["id"]))
    )
    racer.start()
    *_, last = events
    racer.join(timeout=30)
    assert last["type"] == "response.completed"
    assert answers[0]["status"] == "completed"
    second_sent = upstream.requests[-1]["messages"]
    assert [m["content"] for m in second_sent][:2] == [
        "One.",
        last["response"]["output"][0]["content"][0]["text"],
    ]
    status, items = one.request("GET", f"/v1/conversations/{conversation['id']}/items?order=asc")
    assert [item["role"] for item in items["data"]] == ["user", "assistant", "user", "assistant"]


def test_files_ingested_through_one_worker_are_searched_through_the_other(
    pair: tuple[Connection, Connection],
) -> None:
    one, other = pair
    tides = one.upload("tides.txt", b"The tide at Saint-Malo rises thirteen metres at the equinox.")
    status, store = one.request("POST", "/v1/vector_stores", {"name": "coast", "file_ids": [tides["id"]]})
    assert status == 200, store
    assert ingested(other, store["id"], tides["id"])["status"] == "completed"
    hits = search_store(other, store["id"], "How high does the tide rise at Saint-Malo?")  # its index is open
    assert [hit["file_id"] for hit in hits] == [tides["id"]]
    lights = one.upload("lights.txt", b"The lighthouse of Cap Frehel flashes twice every ten seconds.")
    path = f"/v1/vector_stores/{store['id']}/files"
    assert one.request("POST", path, {"file_id": lights["id"]})[0] == 200
    assert ingested(other, store["id"], lights["id"])["status"] == "completed"
    hits = search_store(other, store["id"], "How often does the Cap Frehel lighthouse flash?")
    assert hits[0]["file_id"] == lights["id"]  # written by the first worker, into the open index
    assert "twice every ten seconds" in hits[0]["content"][0]["text"]
    assert other.request("DELETE", f"{path}/{tides['id']}")[0] == 200
    hits = search_store(one, store["id"], "How high does the tide rise at Saint-Malo?")
    assert tides["id"] not in {hit["file_id"] for hit in hits}


def test_a_worker_that_dies_mid_stream_has_its_response_settled_by_its_successor(
    server: WorkerServer, pair: tuple[Connection, Connection], upstream: ScriptedUpstream
) -> None:
    one, other = pair
    upstream.script(Reply(text="word " * 200, token_delay=0.05))
    events = one.stream({"model": MODEL, "input": "Talk for a while."})
    response_id = next(events)["response"]["id"]
    before = set(server.workers())
    os.kill(server.pid_of(one), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _status, seen = other.request("GET", f"/v1/responses/{response_id}")
        if seen.get("status") == "failed":
            break
        time.sleep(0.2)
    assert seen["status"] == "failed", seen
    assert seen["error"]["message"] == WORKER_DIED
    assert set(server.workers()) - before, "uvicorn started a worker in the dead one's place"

"""PostgreSQL stopped under a running server, then started again: every request meanwhile gets a
clean 503 (``database_unavailable``), a stream that cannot store its end says so with
``response.failed``, no row is half written, and service resumes by itself. A PostgreSQL of this
module's own, since it is stopped (the session's is shared by other tests)."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from parley.testing.fake_upstream import Reply
from tests.api.test_responses_basic import parse_sse
from tests.conftest import Harness


class StoppablePostgres:
    def __init__(self, data: str) -> None:
        self.data = data
        self.server: Any = self.start()
        self.url: str = self.server.get_uri()

    def start(self) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            self.server = pgserver.get_server(self.data, cleanup_mode="stop")  # type: ignore[attr-defined]
        return self.server

    def stop(self) -> None:
        self.server.cleanup()


@pytest.fixture
def postgres() -> Iterator[StoppablePostgres]:
    with tempfile.TemporaryDirectory(prefix="parley-pg-down-") as data:
        server = StoppablePostgres(data)
        yield server
        server.stop()


async def test_requests_get_503_while_the_database_is_down_and_succeed_once_it_is_back(
    harness_factory: Callable[..., Harness], postgres: StoppablePostgres
) -> None:
    h = harness_factory(lambda body: Reply(text="Hello."), database_url=postgres.url)
    first = await h.create(input="one")
    assert first.status_code == 200
    rid = first.json()["id"]

    postgres.stop()
    for answer in (
        await h.create(input="two"),
        await h.create(input="two", stream=True),  # refused before its stream starts
        await h.create(input="two", previous_response_id=rid),
        await h.client.get(f"/v1/responses/{rid}"),
        await h.client.post("/v1/conversations", json={}),
    ):
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["code"] == "database_unavailable"
        assert "cannot be reached" in error["message"]

    postgres.start()
    again = await h.client.get(f"/v1/responses/{rid}")
    assert again.status_code == 200
    assert again.json() == first.json()
    second = await h.create(input="three", previous_response_id=rid)
    assert second.status_code == 200
    listed = (await h.client.get("/v1/responses")).json()["data"]  # nothing half written meanwhile
    assert [r["id"] for r in listed] == [second.json()["id"], rid]


async def test_a_stream_whose_end_cannot_be_stored_ends_failed(
    harness_factory: Callable[..., Harness], postgres: StoppablePostgres
) -> None:
    def stop_then_answer(body: dict[str, Any]) -> Reply:
        postgres.stop()  # the stream has begun (its row written); its end will find no database
        return Reply(text="Lost.")

    h = harness_factory(stop_then_answer, database_url=postgres.url)
    r = await h.create(input="hi", stream=True)
    assert r.status_code == 200
    events = parse_sse(r.content)
    assert [e["type"] for e in events][:2] == ["response.created", "response.in_progress"]
    last = events[-1]
    assert last["type"] == "response.failed"
    assert last["sequence_number"] == len(events) - 1
    assert last["response"]["error"]["code"] == "server_error"
    assert "could not be stored" in last["response"]["error"]["message"]
    assert "".join(e.get("delta", "") for e in events) == "Lost."
    postgres.start()

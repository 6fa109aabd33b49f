"""Two ``parley serve`` on different ports and data dirs, one PostgreSQL between them: any replica
continues what any other began (issue 19). Each is a real server process in front of the session's
scripted upstream; the database is the session's real PostgreSQL, a schema of this module's own."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest

from parley.testing.fake_upstream import Reply
from tests.e2e.conftest import MODEL, ScriptedUpstream
from tests.support.postgres import fresh_schema_outside_a_loop
from tests.support.workers import Connection, WorkerServer, ingested, parley_workers, search_store

SEALING_KEY = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    with fresh_schema_outside_a_loop(postgres_url) as url:
        yield url


@pytest.fixture(scope="module")
def replicas(
    scripted_upstream: ScriptedUpstream, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerServer, WorkerServer]]:
    flags = ("--database-url", database_url, "--reasoning-key", SEALING_KEY)
    base = tmp_path_factory.mktemp("replicas")
    with (
        parley_workers(1, scripted_upstream.base_url, base / "a", *flags) as a,
        parley_workers(1, scripted_upstream.base_url, base / "b", *flags) as b,
    ):
        yield a, b


@pytest.fixture
def pair(
    replicas: tuple[WorkerServer, WorkerServer], upstream: ScriptedUpstream
) -> Iterator[tuple[Connection, Connection]]:
    one, other = Connection(replicas[0].port), Connection(replicas[1].port)
    yield one, other
    one.close()
    other.close()


def _create(connection: Connection, **body: object) -> dict[str, object]:
    status, response = connection.request("POST", "/v1/responses", {"model": MODEL, **body})
    assert status == 200, response
    return response


def test_a_response_made_on_one_replica_is_read_continued_and_deleted_on_the_other(
    pair: tuple[Connection, Connection], upstream: ScriptedUpstream
) -> None:
    one, other = pair
    upstream.script(Reply(text="Blue."), Reply(text="You said blue."))
    first = _create(one, input="My favourite colour is blue.")
    assert other.request("GET", f"/v1/responses/{first['id']}") == (200, first)
    second = _create(other, input="What did I say?", previous_response_id=first["id"])
    sent = upstream.requests[-1]["messages"]
    assert [m["content"] for m in sent] == ["My favourite colour is blue.", "Blue.", "What did I say?"]
    assert one.request("GET", f"/v1/responses/{second['id']}") == (200, second)
    assert one.request("DELETE", f"/v1/responses/{first['id']}")[0] == 200
    assert other.request("GET", f"/v1/responses/{first['id']}")[0] == 404
    assert other.request("DELETE", f"/v1/responses/{first['id']}")[0] == 404


def test_a_conversation_made_on_one_replica_grows_on_the_other(
    pair: tuple[Connection, Connection], upstream: ScriptedUpstream
) -> None:
    one, other = pair
    upstream.script(Reply(text="Noted."), Reply(text="Tea."))
    status, conversation = one.request("POST", "/v1/conversations", {"items": []})
    assert status == 200, conversation
    _create(other, input="I like tea.", conversation=conversation["id"])
    _create(one, input="What do I like?", conversation=conversation["id"])
    sent = upstream.requests[-1]["messages"]
    assert [m["content"] for m in sent] == ["I like tea.", "Noted.", "What do I like?"]
    status, items = other.request("GET", f"/v1/conversations/{conversation['id']}/items?order=asc")
    assert status == 200
    texts = [part["text"] for item in items["data"] for part in item["content"]]
    assert texts == ["I like tea.", "Noted.", "What do I like?", "Tea."]


def test_a_file_ingested_on_one_replica_is_searched_and_detached_on_the_other(
    pair: tuple[Connection, Connection],
) -> None:
    """The chunks are in PostgreSQL (pgvector), not in either replica's data dir."""
    one, other = pair
    tides = one.upload("tides.txt", b"The tide at Saint-Malo rises thirteen metres at the equinox.")
    lights = one.upload("lights.txt", b"The lighthouse of Cap Frehel flashes twice every ten seconds.")
    body = {"name": "coast", "file_ids": [tides["id"], lights["id"]]}
    status, store = one.request("POST", "/v1/vector_stores", body)
    assert status == 200, store
    for file in (tides, lights):
        assert ingested(other, store["id"], file["id"])["status"] == "completed"
    hits = search_store(other, store["id"], "How often does the Cap Frehel lighthouse flash?")
    assert hits[0]["file_id"] == lights["id"]
    assert "twice every ten seconds" in hits[0]["content"][0]["text"]
    assert other.request("DELETE", f"/v1/vector_stores/{store['id']}/files/{lights['id']}")[0] == 200
    hits = search_store(one, store["id"], "How often does the Cap Frehel lighthouse flash?")
    assert [hit["file_id"] for hit in hits] == [tides["id"]]
    status, content = one.request("GET", f"/v1/vector_stores/{store['id']}/files/{tides['id']}/content")
    assert status == 200, content
    assert "thirteen metres" in content["data"][0]["text"]

"""``SocketResponses``: what one socket keeps, for whom, and what it leaves to the app's store."""

from __future__ import annotations

import dataclasses
from typing import Any

from parley.api.socket_responses import SocketResponses
from parley.engine import EngineDeps, TurnRun, start_turn
from parley.wire.request import parse_create_request
from tests.conftest import Harness


async def finished(engine: EngineDeps, owner: str, **body: Any) -> TurnRun:
    run = await start_turn(parse_create_request({"model": "fake-model", **body}), engine, owner)
    await run.response()
    return run


async def test_the_kept_response_answers_only_for_its_owner(harness: Harness) -> None:
    store: EngineDeps = harness.app.state.deps
    view = SocketResponses(store.responses)
    engine = dataclasses.replace(store, responses=view)
    run = await finished(engine, "alice", input="hi", store=False)
    view.keep(run.turn)
    response_id = run.turn.response["id"]
    kept = await view.get(response_id, "alice")
    assert kept is not None
    assert kept["status"] == "completed"
    chain = await view.history(response_id, "alice")
    assert chain is not None
    assert [item["type"] for item in chain] == ["message", "message"]
    assert await view.get(response_id, "bob") is None
    assert await view.history(response_id, "bob") is None
    assert await store.responses.get(response_id, "alice") is None  # never stored
    view.evict("resp_other")
    assert await view.history(response_id, "alice") is not None
    view.evict(response_id)
    assert await view.history(response_id, "alice") is None


async def test_everything_else_is_the_store_s(harness: Harness) -> None:
    store: EngineDeps = harness.app.state.deps
    view = SocketResponses(store.responses)
    engine = dataclasses.replace(store, responses=view)
    run = await finished(engine, "alice", input="stored")
    view.keep(run.turn)  # stored in full: nothing for the socket to keep
    response_id = run.turn.response["id"]
    stored = await view.get(response_id, "alice")
    assert stored is not None
    assert stored["id"] == response_id
    page = await view.input_items(response_id, "alice", after=None, before=None, limit=10, order="asc")
    assert page is not None
    assert [item["content"][0]["text"] for item in page.data] == ["stored"]
    assert [r["id"] for r in (await view.list("alice", after=None, limit=10, order="desc")).data] == [
        response_id
    ]
    await view.aclose()  # the store is the app's: still open
    assert await view.delete(response_id, "alice")
    assert await store.responses.get(response_id, "alice") is None


async def test_an_abandoned_stored_turn_is_recorded_through_the_view(harness: Harness) -> None:
    store: EngineDeps = harness.app.state.deps
    view = SocketResponses(store.responses)
    engine = dataclasses.replace(store, responses=view)
    run = await start_turn(parse_create_request({"model": "fake-model", "input": "hi"}), engine, "alice")
    events = run.events
    assert (await anext(events))["type"] == "response.created"
    await events.aclose()  # type: ignore[attr-defined]
    response_id = run.turn.response["id"]
    for _ in range(100):  # the record is queued, not awaited
        found = await store.responses.get(response_id, "alice")
        if found is not None:
            break
    assert found is not None
    assert found["status"] == "failed"

"""WebSocket mode on ``/v1/responses``, in process: starlette's TestClient over the app that
``create_app`` builds, with a scripted upstream behind it (as ``tests/conftest.py``'s harness)."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from starlette.testclient import TestClient, WebSocketTestSession

from parley.api.websocket import MAX_MESSAGE_CHARS
from parley.app import create_app
from parley.engine import EngineDeps
from parley.storage.base import Item
from parley.storage.chain_cache import ChainCache
from parley.testing.fake_upstream import FakeUpstream, Reply, Script, ToolCall
from tests.api.test_responses_basic import parse_sse
from tests.conftest import make_settings
from tests.support.wire import check_event

Json = dict[str, Any]
TERMINAL = {"response.completed", "response.failed", "response.incomplete", "error"}


@dataclasses.dataclass
class Served:
    client: TestClient
    fake: FakeUpstream

    def socket(self) -> contextlib.AbstractContextManager[WebSocketTestSession]:
        return self.client.websocket_connect("/v1/responses")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[[Script], Served]]:
    """``served(script)``: Parley (lifespan and all) over a FakeUpstream answering ``script``."""
    with contextlib.ExitStack() as stack:

        def start(script: Script = None) -> Served:
            fake = FakeUpstream(script)
            upstream = httpx2.ASGITransport(app=fake.app)
            app = create_app(make_settings(tmp_path), transport_factory=lambda cfg: upstream)
            return Served(stack.enter_context(TestClient(app)), fake)

        yield start


def create(ws: WebSocketTestSession, **body: Any) -> None:
    ws.send_text(orjson.dumps({"type": "response.create", "model": "fake-model", **body}).decode())


def receive_turn(ws: WebSocketTestSession) -> list[Json]:
    """Every message up to and including the turn's terminal event (or its error)."""
    events: list[Json] = []
    while not events or events[-1]["type"] not in TERMINAL:
        events.append(orjson.loads(ws.receive_text()))
    return events


def turn(ws: WebSocketTestSession, **body: Any) -> list[Json]:
    create(ws, **body)
    return receive_turn(ws)


def final(events: list[Json]) -> Json:
    response: Json = events[-1]["response"]
    return response


def error_of(events: list[Json]) -> Json:
    assert [event["type"] for event in events] == ["error"], events
    return events[0]


def user_texts(request: Json) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] in ("user", "assistant")]


def test_events_are_the_sse_stream_of_the_same_turn(served: Callable[[Script], Served]) -> None:
    reply = Reply(text="Saturn has rings, and so do the others.", prompt_tokens=9, completion_tokens=8)
    parley = served([reply, reply])
    body = {"model": "fake-model", "input": "Which planet has rings?", "instructions": "Be brief."}
    sse = parse_sse(parley.client.post("/v1/responses", json={**body, "stream": True}).content)
    with parley.socket() as ws:
        events = turn(ws, **body)
    assert [(e["type"], e["sequence_number"]) for e in events] == [
        (e["type"], e["sequence_number"]) for e in sse
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for event in events:
        check_event(event)
    assert final(events)["output"][0]["content"][0]["text"] == reply.text
    assert final(events)["usage"] == final(sse)["usage"]
    assert parley.fake.requests[0]["messages"] == parley.fake.requests[1]["messages"]


def test_two_responses_one_after_the_other_on_one_socket(served: Callable[[Script], Served]) -> None:
    parley = served([Reply(text="first"), Reply(text="second")])
    with parley.socket() as ws:
        create(ws, input="one", store=False)
        create(ws, input="two", store=False)  # sent before the first has streamed: it waits its turn
        first, second = receive_turn(ws), receive_turn(ws)
    for events, text in ((first, "first"), (second, "second")):
        assert events[0]["type"] == "response.created"
        assert events[0]["sequence_number"] == 0
        assert final(events)["status"] == "completed"
        assert final(events)["output"][0]["content"][0]["text"] == text
    assert final(first)["id"] != final(second)["id"]
    assert [user_texts(r) for r in parley.fake.requests] == [["one"], ["two"]]


def test_an_unstored_response_continues_on_its_socket(served: Callable[[Script], Served]) -> None:
    lookup = ToolCall("lookup", '{"word": "code"}', id="call_code")
    parley = served([Reply(text="OK, cobalt."), Reply(tool_calls=[lookup]), Reply(text="It was cobalt.")])
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    with parley.socket() as ws:
        first = final(turn(ws, input="Remember the code word: cobalt.", store=False))
        second = final(
            turn(ws, input="Look it up.", store=False, previous_response_id=first["id"], tools=tools)
        )
        output = {"type": "function_call_output", "call_id": "call_code", "output": "cobalt"}
        third = final(turn(ws, input=[output], store=False, previous_response_id=second["id"], tools=tools))
    assert third["status"] == "completed"
    assert third["previous_response_id"] == second["id"]
    last = parley.fake.requests[-1]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user", "assistant", "tool"]
    assert last[0]["content"] == "Remember the code word: cobalt."
    assert last[3]["tool_calls"][0]["id"] == "call_code"
    assert last[4] == {"role": "tool", "tool_call_id": "call_code", "content": "cobalt"}
    assert parley.client.get(f"/v1/responses/{first['id']}").status_code == 404  # never stored


def test_an_unstored_response_is_not_found_on_a_new_socket(served: Callable[[Script], Served]) -> None:
    parley = served([Reply(text="OK."), Reply(text="recovered")])
    with parley.socket() as ws:
        first = final(turn(ws, input="Remember: copper.", store=False))
    with parley.socket() as ws:
        error = error_of(turn(ws, input="And?", store=False, previous_response_id=first["id"]))
        recovered = final(turn(ws, input="Start again.", store=False))
    assert error == {
        "type": "error",
        "status": 400,
        "error": {
            "type": "invalid_request_error",
            "code": "previous_response_not_found",
            "message": f"Previous response with id '{first['id']}' not found.",
            "param": "previous_response_id",
        },
    }
    assert recovered["status"] == "completed"


def test_a_stored_response_continues_on_any_socket_and_over_http(
    served: Callable[[Script], Served],
) -> None:
    parley = served([Reply(text="OK, slate."), Reply(text="slate"), Reply(text="slate again")])
    with parley.socket() as ws:
        first = final(turn(ws, input="Remember: slate."))
    with parley.socket() as ws:
        second = final(turn(ws, input="Which word?", previous_response_id=first["id"]))
    over_http = parley.client.post(
        "/v1/responses", json={"model": "fake-model", "input": "Again?", "previous_response_id": second["id"]}
    )
    assert over_http.json()["status"] == "completed"
    assert user_texts(parley.fake.requests[-1]) == [
        "Remember: slate.",
        "OK, slate.",
        "Which word?",
        "slate",
        "Again?",
    ]
    assert parley.client.get(f"/v1/responses/{second['id']}").json()["status"] == "completed"


def test_a_stored_continuation_of_an_unstored_response_keeps_its_whole_chain(
    served: Callable[[Script], Served],
) -> None:
    parley = served([Reply(text=text) for text in ("one", "two", "three", "four", "five")])
    with parley.socket() as ws:
        first = final(turn(ws, input="a", store=False))
        second = final(turn(ws, input="b", previous_response_id=first["id"]))  # stored, the head is not
        third = final(turn(ws, input="c", previous_response_id=second["id"]))
        final(turn(ws, input="d", store=True))  # the store answers for this one: the socket forgets
        forgotten = error_of(turn(ws, input="e", store=False, previous_response_id=first["id"]))
        from_store = final(turn(ws, input="f", store=False, previous_response_id=third["id"]))
    assert user_texts(parley.fake.requests[2]) == ["a", "one", "b", "two", "c"]
    assert forgotten["error"]["code"] == "previous_response_not_found"
    assert from_store["status"] == "completed"  # through the store, which never saw the unstored head
    assert user_texts(parley.fake.requests[4]) == ["b", "two", "c", "three", "f"]


def test_a_continuation_that_fails_before_it_starts_evicts_what_it_continued(
    served: Callable[[Script], Served],
) -> None:
    parley = served([Reply(text="OK, ember.")])
    with parley.socket() as ws:
        first = final(turn(ws, input="Remember: ember.", store=False))
        stray = {"type": "function_call_output", "call_id": "call_missing", "output": "none"}
        failed = error_of(turn(ws, input=[stray], store=False, previous_response_id=first["id"]))
        retry = error_of(turn(ws, input="stale?", store=False, previous_response_id=first["id"]))
    assert failed["status"] == 400
    assert failed["error"]["code"] == "unknown_call_id"
    assert failed["error"]["param"] == "input[0].call_id"
    assert retry["status"] == 400
    assert retry["error"]["code"] == "previous_response_not_found"


def test_a_continuation_that_fails_midway_evicts_what_it_continued(
    served: Callable[[Script], Served],
) -> None:
    parley = served([Reply(text="OK."), Reply(status=500), Reply(text="fresh")])
    with parley.socket() as ws:
        first = final(turn(ws, input="Remember.", store=False))
        failed = turn(ws, input="Fail now.", store=False, previous_response_id=first["id"])
        retry = error_of(turn(ws, input="stale?", store=False, previous_response_id=first["id"]))
        fresh = final(turn(ws, input="New start.", store=False))
    assert failed[0]["type"] == "response.created"
    assert final(failed)["status"] == "failed"
    assert retry["error"]["code"] == "previous_response_not_found"
    assert fresh["status"] == "completed"


def test_an_error_that_continues_nothing_keeps_the_socket_state(served: Callable[[Script], Served]) -> None:
    parley = served([Reply(text="OK."), Reply(text="still here")])
    with parley.socket() as ws:
        first = final(turn(ws, input="Remember.", store=False))
        error_of(turn(ws, input="x", model=5))
        kept = final(turn(ws, input="Still?", store=False, previous_response_id=first["id"]))
    assert kept["status"] == "completed"


CREATE = '{"type": "response.create", "model": "fake-model", '
BAD_MESSAGES = [
    pytest.param("not json", 400, "invalid_json", None, id="not-json"),
    pytest.param("[1, 2]", 400, "invalid_json", None, id="not-an-object"),
    pytest.param('{"model": "m", "input": "hi"}', 400, "missing_required_parameter", "type", id="no-type"),
    pytest.param('{"type": "response.cancel"}', 400, "invalid_value", "type", id="unknown-type"),
    pytest.param('{"type": "response.create"}', 400, "missing_required_parameter", "model", id="no-model"),
    pytest.param(CREATE + '"temperature": 7}', 400, "invalid_value", "temperature", id="invalid-body"),
    pytest.param(CREATE + '"background": true}', 400, "unsupported_parameter", "background", id="background"),
    # an error without a code of its own: the code is its type
    pytest.param(
        CREATE + '"input": [{"type": "compaction_trigger"}]}', 400, "invalid_request_error", "input",
        id="uncoded-error",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("message", "status", "code", "param"), BAD_MESSAGES)
def test_a_bad_message_is_an_error_and_the_socket_stays_usable(
    served: Callable[[Script], Served], message: str, status: int, code: str, param: str | None
) -> None:
    parley = served([Reply(text="fine")])
    with parley.socket() as ws:
        ws.send_text(message)
        error = error_of(receive_turn(ws))
        after = final(turn(ws, input="And now?", store=False))
    assert error["status"] == status
    assert error["error"]["code"] == code
    assert error["error"]["param"] == param
    assert error["error"]["type"] == "invalid_request_error"
    assert after["output"][0]["content"][0]["text"] == "fine"


def test_an_oversized_message_is_refused_and_the_socket_stays_usable(
    served: Callable[[Script], Served],
) -> None:
    parley = served([Reply(text="fine")])
    with parley.socket() as ws:
        ws.send_text('{"type": "response.create", "input": "' + "x" * MAX_MESSAGE_CHARS + '"}')
        error = error_of(receive_turn(ws))
        after = final(turn(ws, input="Small now.", store=False))
    assert error["status"] == 413
    assert error["error"] == {
        "type": "invalid_request_error",
        "code": "message_too_large",
        "message": f"The message is longer than the maximum of {MAX_MESSAGE_CHARS} characters.",
        "param": None,
    }
    assert after["status"] == "completed"
    assert parley.client.get("/health").json() == {"status": "ok"}


def test_transport_fields_are_ignored_and_binary_messages_are_read(
    served: Callable[[Script], Served],
) -> None:
    parley = served([Reply(text="one"), Reply(text="two")])
    with parley.socket() as ws:
        streamed = final(turn(ws, input="hi", stream=False, stream_options={"include_obfuscation": False}))
        ws.send_bytes(orjson.dumps({"type": "response.create", "model": "fake-model", "input": "bytes"}))
        as_bytes = final(receive_turn(ws))
    assert streamed["status"] == as_bytes["status"] == "completed"
    assert user_texts(parley.fake.requests[1]) == ["bytes"]


def test_an_upstream_that_is_not_set_up_is_a_server_error_frame(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, providers=()))
    with TestClient(app) as client, client.websocket_connect("/v1/responses") as ws:
        error = error_of(turn(ws, input="hi"))
    assert error["status"] == 503
    assert error["error"]["type"] == "server_error"
    assert error["error"]["code"] == "no_provider_configured"


class HistoryFails(ChainCache):
    """A store whose chain read breaks: the kind of bug no caller can cause."""

    async def history(self, response_id: str, owner: str) -> list[Item] | None:
        raise RuntimeError("the chain read broke")


def test_a_bug_is_a_500_frame_and_the_socket_stays_usable(
    served: Callable[[Script], Served], caplog: pytest.LogCaptureFixture
) -> None:
    parley = served([Reply(text="fine")])
    app: Any = parley.client.app
    deps: EngineDeps = app.state.deps
    app.state.deps = dataclasses.replace(deps, responses=HistoryFails(deps.responses))
    with parley.socket() as ws:
        error = error_of(turn(ws, input="hi", previous_response_id="resp_any"))
        after = final(turn(ws, input="fresh", store=False))
    assert error == {
        "type": "error",
        "status": 500,
        "error": {
            "type": "server_error",
            "code": "server_error",
            "message": "The server had an error while processing your request.",
            "param": None,
        },
    }
    assert after["status"] == "completed"
    assert "response.create on a WebSocket failed" in caplog.text


def test_a_client_that_goes_away_stops_its_turn(served: Callable[[Script], Served]) -> None:
    parley = served([Reply(text="word " * 400, token_delay=0.01), Reply(text="next")])
    with parley.socket() as ws:
        create(ws, input="Talk slowly.")
        created = orjson.loads(ws.receive_text())
        assert created["type"] == "response.created"
    response_id = created["response"]["id"]
    deadline = time.monotonic() + 5
    while (stored := parley.client.get(f"/v1/responses/{response_id}").json())["status"] == "in_progress":
        assert time.monotonic() < deadline, stored
        time.sleep(0.02)
    assert stored["status"] == "failed"
    assert "client went away" in stored["error"]["message"]
    after = parley.client.post("/v1/responses", json={"model": "fake-model", "input": "still there?"})
    assert after.json()["status"] == "completed"

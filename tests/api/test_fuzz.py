"""Schemathesis against ``/openapi.json``, in process: whatever the document allows or nearly allows
(valid bodies, and bodies broken on purpose), Parley never answers 5xx and keeps serving.

Bounded so that it stays a part of the suite: a few examples per operation and no shrinking, about
half a minute on the shared two cores. ``FUZZ_EXAMPLES=50 FUZZ_RANDOM=1`` makes a longer local hunt.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from starlette.applications import Starlette

from parley.api.openapi import OPERATIONS, Operation
from parley.app import create_app
from parley.testing.fake_upstream import FakeUpstream
from tests.conftest import make_settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
RANDOM = bool(os.environ.get("FUZZ_RANDOM"))
"""Fresh examples each run (to hunt); by default the same ones every run, so CI cannot flake."""
Ids = dict[str, str]


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    upstream = httpx2.ASGITransport(app=FakeUpstream(None).app)
    data_dir = tmp_path_factory.mktemp("fuzz")
    app = create_app(make_settings(data_dir), transport_factory=lambda config: upstream)
    yield app
    asgi.shutdown_lifespans()  # schemathesis started the app's lifespan on its own event loop


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: Starlette) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


def _modes(operation: Operation) -> list[GenerationMode]:
    """Broken inputs too, where there is an input to break."""
    has_input = operation.body is not None or bool(operation.query)  # a path segment is any string
    return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if has_input else [GenerationMode.POSITIVE]


def seed(app: Starlette) -> Ids:
    """One of each object, so that half the fuzzed requests name ids that exist and reach past the
    404 of an unknown one (a real store searched with fuzzed filters, a real file given attributes)."""
    with asgi.get_client(app) as client:  # type: ignore[arg-type]  # an ASGI app all the same

        def made(path: str, **kwargs: Any) -> Any:
            answer = client.post(path, **kwargs)
            assert answer.status_code == 200, answer.text
            return answer.json()

        message = {"type": "message", "role": "user", "content": "hello"}
        conversation = made("/v1/conversations", json={"items": [message]})["id"]
        upload = {"file": ("a.txt", b"Solar panels in Spain.")}
        file = made("/v1/files", files=upload, data={"purpose": "user_data"})["id"]
        store = made("/v1/vector_stores", json={"name": "s", "file_ids": [file]})["id"]
        prompt = {"prompt": "Be {{tone}}.", "variables": ["tone"]}
        return {
            "response_id": made("/v1/responses", json={"model": "fake-model", "input": "hi"})["id"],
            "conversation_id": conversation,
            "item_id": client.get(f"/v1/conversations/{conversation}/items").json()["data"][0]["id"],
            "prompt_id": made("/v1/prompts", json=prompt)["prompt_id"],
            "file_id": file,
            "vector_store_id": store,
            "batch_id": made(f"/v1/vector_stores/{store}/file_batches", json={"file_ids": [file]})["id"],
        }


def _with_ids(pair: tuple[Any, bool], ids: Ids) -> Any:
    case, known = pair
    if known and case.path_parameters:
        case.path_parameters = {name: ids[name] for name in case.path_parameters}
    return case


def _fuzz(api_schema: Any, operation: Operation, mode: GenerationMode, ids: Ids) -> None:
    generated = api_schema[operation.path][operation.method.upper()].as_strategy(generation_mode=mode)
    strategy = st.tuples(generated, st.booleans()).map(lambda pair: _with_ids(pair, ids))

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        case.call_and_validate(checks=[not_a_server_error])

    try:
        fuzz()
    except BaseException as exc:
        exc.add_note(f"while fuzzing {operation.method.upper()} {operation.path} ({mode.value})")
        raise


def test_no_server_errors(api_schema: Any, fuzzed_app: Starlette) -> None:
    """One test for all operations: the app's lifespan (which schemathesis runs, and ends after each
    test) is the app's whole life, so one app serves the whole run."""
    ids = seed(fuzzed_app)
    for operation in sorted(OPERATIONS, key=lambda op: op.method == "delete"):  # deletes last
        for mode in _modes(operation):
            _fuzz(api_schema, operation, mode, ids)
    # the same app, still serving, and its background worker still working
    with asgi.get_client(fuzzed_app) as client:  # type: ignore[arg-type]
        assert client.get("/health").json() == {"status": "ok"}
        body: dict[str, Any] = {"model": "fake-model", "input": "still there?", "background": True}
        response = client.post("/v1/responses", json=body).json()
        deadline = time.monotonic() + 30
        while response["status"] in ("queued", "in_progress") and time.monotonic() < deadline:
            time.sleep(0.02)
            response = client.get(f"/v1/responses/{response['id']}").json()
        assert response["status"] == "completed"

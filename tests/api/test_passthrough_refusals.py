"""A provider's 4xx to a relayed body is the caller's mistake: relayed with its status, not a 502."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from parley.testing.fake_upstream import Reply
from tests.conftest import Harness

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("stream", [False, True])
async def test_an_openai_refusal_is_relayed(harness_factory: Callable[..., Harness], stream: bool) -> None:
    error = {"message": "'temperature' must be at most 2.", "type": "invalid_request_error",
             "param": "temperature", "code": "invalid_value"}  # fmt: skip
    h = harness_factory([Reply(status=400, error_body={"error": error})])
    r = await h.client.post("/v1/chat/completions", json={**CHAT, "stream": stream})
    assert r.status_code == 400
    assert r.json() == {"error": error}


async def test_any_other_refusal_keeps_its_status_and_words(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(status=422, error_body={"detail": "messages.0.content: field required"})])
    r = await h.client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 422
    error = r.json()["error"]
    assert "field required" in error["message"]
    assert error["type"] == "invalid_request_error"


async def test_a_malformed_embeddings_body_is_the_callers_400(harness: Harness) -> None:
    r = await harness.client.post("/v1/embeddings", json={"model": "fake-model", "input": 1.5})
    assert r.status_code == 400
    assert "'input' must be a string" in r.json()["error"]["message"]


async def test_a_provider_failure_stays_a_502(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(status=503)])
    assert (await h.client.post("/v1/chat/completions", json=CHAT)).status_code == 502

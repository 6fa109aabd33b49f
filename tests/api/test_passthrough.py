"""Chat Completions, Embeddings and Models relayed to the provider."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from parley.testing.fake_upstream import Reply
from tests.conftest import Harness


async def test_chat_completion_non_stream(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Hello there.")])
    r = await h.client.post(
        "/v1/chat/completions",
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.1},
    )
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "Hello there."
    assert h.fake.requests[0] == {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.1,
    }


async def test_chat_completion_stream_is_relayed(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Hello there.")])
    r = await h.client.post(
        "/v1/chat/completions",
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    lines = [line for line in r.content.split(b"\n") if line.startswith(b"data: ")]
    assert lines[-1] == b"data: [DONE]"
    text = "".join(orjson.loads(line[6:])["choices"][0]["delta"].get("content") or "" for line in lines[:-1])
    assert text == "Hello there."


async def test_chat_completion_upstream_error_is_a_502(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(status=500)])
    r = await h.client.post(
        "/v1/chat/completions",
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    )
    assert r.status_code == 502
    assert "scripted upstream failure" in r.json()["error"]["message"]


async def test_embeddings_and_models(harness: Harness) -> None:
    r = await harness.client.post("/v1/embeddings", json={"model": "fake-model", "input": ["a", "b"]})
    assert r.status_code == 200
    assert [d["index"] for d in r.json()["data"]] == [0, 1]
    models = (await harness.client.get("/v1/models")).json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["fake-model"]


async def test_passthrough_needs_a_model(harness: Harness) -> None:
    r = await harness.client.post("/v1/chat/completions", json={"messages": []})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "model"

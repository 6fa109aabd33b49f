"""The adapter in front of llama-cpp-python's server, in front of a small Starlette app standing in
for it (llama.cpp itself is not installed where the suite runs): what reaches the app, and the usage
chunk a stream gets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from parley.local_server import ChatBodyAdapter, adapt_chat_body

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/json")


async def tokens(request: Request) -> StreamingResponse:
    """Chunks the way llama-cpp-python sends them: one token each, then the finish, then [DONE]."""

    async def chunks() -> AsyncIterator[bytes]:
        for piece in ("Hel", "lo", "!"):
            yield b"data: " + orjson.dumps({"choices": [{"delta": {"content": piece}}]}) + b"\r\n\r\n"
        finish = request.query_params.get("finish", "stop")
        yield b"data: " + orjson.dumps({"choices": [{"delta": {}, "finish_reason": finish}]}) + b"\r\n\r\n"
        yield b"data: [DONE]\r\n\r\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


def client(stream: bool = False) -> httpx2.AsyncClient:
    routes = [Route("/v1/chat/completions", tokens if stream else echo, methods=["POST"])]
    routes.append(Route("/v1/other", echo, methods=["POST"]))
    app = ChatBodyAdapter(Starlette(routes=routes), context_tokens=lambda: 10)
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://llama.test")


async def test_a_json_schema_format_reaches_the_server_as_json_object_with_its_schema() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMA, "strict": True}}
    async with client() as llama:
        seen = (await llama.post("/v1/chat/completions", json={"model": "m", "response_format": fmt})).json()
    assert seen == {"model": "m", "response_format": {"type": "json_object", "schema": SCHEMA}}


async def test_other_bodies_and_paths_pass_unchanged() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMA}}
    async with client() as llama:
        other = await llama.post("/v1/other", json={"response_format": fmt})
        plain = await llama.post("/v1/chat/completions", content=b'{"response_format": {"type": "text"}}')
    assert other.json() == {"response_format": fmt}
    assert plain.content == b'{"response_format": {"type": "text"}}'
    assert adapt_chat_body(b"not json") == b"not json"


@pytest.mark.parametrize(("finish", "prompt"), [("stop", 7), ("length", 8)])
async def test_a_stream_that_asks_for_usage_ends_with_the_counted_usage_chunk(
    finish: str, prompt: int
) -> None:
    """The context holds 10 tokens: the prompt and the 3 answered, less the last one when the stream
    was cut at its limit (it was never fed back)."""
    body = {"model": "m", "stream": True, "stream_options": {"include_usage": True}}
    async with client(stream=True) as llama:
        text = (await llama.post(f"/v1/chat/completions?finish={finish}", json=body)).text
    events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    usage = orjson.loads(events[-2])
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": prompt, "completion_tokens": 3, "total_tokens": prompt + 3}


async def test_a_stream_that_does_not_ask_for_usage_is_untouched() -> None:
    async with client(stream=True) as llama:
        text = (await llama.post("/v1/chat/completions", json={"model": "m", "stream": True})).text
    assert "usage" not in text
    assert text.count("data: ") == 5


async def test_logprobs_are_refused_before_the_server_sees_them() -> None:
    async with client() as llama:
        answer = await llama.post("/v1/chat/completions", json={"model": "m", "logprobs": True})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "logprobs"

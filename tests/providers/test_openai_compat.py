"""The OpenAI-compatible provider: stream parsing, error translation, connection reuse."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from parley.errors import UpstreamProtocolError, UpstreamStatus
from parley.providers.endpoint import Endpoint
from parley.providers.openai_compat import OpenAICompatProvider


class TrackedStream(httpx2.AsyncByteStream):
    """A response body that records whether it was read to its end."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.read_to_end = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for line in self.body.splitlines(keepends=True):
            yield line
        self.read_to_end = True


def provider_for(handler: httpx2.MockTransport) -> OpenAICompatProvider:
    return OpenAICompatProvider("test", Endpoint("http://up.test/v1", handler))


async def test_stream_is_read_to_the_end_so_the_connection_can_be_reused() -> None:
    stream = TrackedStream(b'data: {"choices": []}\n\ndata: [DONE]\n\n: trailing comment\n\n')
    transport = httpx2.MockTransport(lambda r: httpx2.Response(200, stream=stream))
    chunks = [c async for c in provider_for(transport).stream_chat({"model": "m"})]
    assert chunks == [{"choices": []}]
    assert stream.read_to_end


async def test_error_status_keeps_the_upstream_message() -> None:
    transport = httpx2.MockTransport(lambda r: httpx2.Response(429, json={"error": {"message": "slow down"}}))
    with pytest.raises(UpstreamStatus) as info:
        [c async for c in provider_for(transport).stream_chat({"model": "m"})]
    assert info.value.status == 429
    assert "slow down" in info.value.message


async def test_error_event_inside_a_stream() -> None:
    body = b'data: {"error": {"message": "model overloaded"}}\n\n'
    transport = httpx2.MockTransport(lambda r: httpx2.Response(200, content=body))
    with pytest.raises(UpstreamStatus, match="model overloaded"):
        [c async for c in provider_for(transport).stream_chat({"model": "m"})]


async def test_malformed_event_is_a_protocol_error() -> None:
    transport = httpx2.MockTransport(lambda r: httpx2.Response(200, content=b"data: {nope\n\n"))
    with pytest.raises(UpstreamProtocolError, match="malformed"):
        [c async for c in provider_for(transport).stream_chat({"model": "m"})]


async def test_a_server_that_ignores_stream_is_read_as_chunks() -> None:
    completion = {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "Checking.",
                    "reasoning_content": "Need weather.",
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }
    transport = httpx2.MockTransport(lambda r: httpx2.Response(200, json=completion))
    chunks = [c async for c in provider_for(transport).stream_chat({"model": "m"})]
    assert chunks[0]["choices"][0]["delta"] == {
        "content": "Checking.",
        "reasoning_content": "Need weather.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}, "index": 0}
        ],
    }
    assert chunks[0]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[1] == {"choices": [], "usage": completion["usage"]}


async def test_endpoint_sends_key_json_and_timeouts_to_the_joined_url() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"object": "list", "data": []})

    endpoint = Endpoint(
        "http://up.test/api/v1/",
        httpx2.MockTransport(handler),
        headers={"authorization": "Bearer k"},
        timeout=30,
    )
    provider = OpenAICompatProvider("test", endpoint)
    assert await provider.post_json("embeddings", {"input": "x"}) == {"object": "list", "data": []}
    assert await provider.get_json("models") == {"object": "list", "data": []}
    post, get = seen
    assert str(post.url) == "http://up.test/api/v1/embeddings"
    assert post.headers["authorization"] == "Bearer k"
    assert post.headers["content-type"] == "application/json"
    assert post.headers["user-agent"].startswith("parley/")
    assert post.extensions["timeout"] == {"connect": 10.0, "read": 30, "write": 30, "pool": 30}
    assert "content-type" not in get.headers
    await provider.aclose()

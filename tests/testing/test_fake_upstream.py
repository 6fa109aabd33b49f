"""The fake upstream must speak OpenAI's wire format exactly, or every test built on it lies."""

from __future__ import annotations

import math
from typing import Any

import httpx2
import openai
import orjson
import pytest

from parley.testing.fake_upstream import FakeUpstream, Reply, ToolCall, auto_reply, main

MESSAGES = [{"role": "user", "content": "hello there"}]
TOOLS = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]


def client_for(fake: FakeUpstream) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=fake.app), base_url="http://upstream/v1")


async def stream_events(fake: FakeUpstream, **body: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Decoded chunks plus the raw data lines, so framing and content can both be checked."""
    body = {"model": "m", "messages": MESSAGES, "stream": True, **body}
    async with client_for(fake) as client:
        resp = await client.post("/chat/completions", json=body)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    raw = resp.text
    assert raw.endswith("\n\n")
    lines = [frame.removeprefix("data: ") for frame in raw.split("\n\n") if frame]
    assert all(frame.startswith("data: ") for frame in raw.split("\n\n") if frame)
    chunks = [orjson.loads(line) for line in lines if line != "[DONE]" and line != "{not json"]
    return chunks, lines


async def test_streamed_text_joins_back_exactly() -> None:
    text = "  Hello,   world!\nThis is\tspaced  out.  "
    fake = FakeUpstream([Reply(text=text, reasoning="think first. ok")])
    chunks, lines = await stream_events(fake)
    assert lines[-1] == "[DONE]"
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content") or "" for d in deltas) == text
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "think first. ok"
    first_content = next(i for i, d in enumerate(deltas) if d.get("content"))
    last_reasoning = max(i for i, d in enumerate(deltas) if "reasoning_content" in d)
    assert last_reasoning < first_content
    assert len([d for d in deltas if d.get("content")]) > 3
    for c in chunks:
        assert set(c) == {"id", "object", "created", "model", "system_fingerprint", "choices"}
        assert c["id"] == "chatcmpl-fake-1"
        assert c["object"] == "chat.completion.chunk"
        assert c["model"] == "m"
        assert c["system_fingerprint"] is None
        assert set(c["choices"][0]) == {"index", "delta", "logprobs", "finish_reason"}
    assert deltas[-1] == {}
    assert [c["choices"][0]["finish_reason"] for c in chunks][-2:] == [None, "stop"]


async def test_tool_call_chunks_have_openai_shape() -> None:
    calls = [
        ToolCall("search", '{"query": "cats and dogs"}'),
        ToolCall("fetch", '{"url": "x"}', id="call_mine"),
    ]
    fake = FakeUpstream([Reply(tool_calls=calls)])
    chunks, _ = await stream_events(fake)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": None}
    tc_deltas = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert tc_deltas[0] == {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "search", "arguments": ""},
    }
    for index, call in enumerate(calls):
        parts = [t for t in tc_deltas if t["index"] == index]
        assert parts[0]["id"] == (call.id or "call_1")
        assert all(set(p) == {"index", "function"} and set(p["function"]) == {"arguments"} for p in parts[1:])
        assert 2 <= len(parts) - 1 <= 3
        assert "".join(p["function"]["arguments"] for p in parts) == call.arguments
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "tool_calls",
    }


PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello parley\n*** End Patch\n"


async def test_custom_tool_call_streams_and_answers_like_openai() -> None:
    """``kind="custom"``: ``type: "custom"`` deltas with ``custom.input`` pieces, beside a function call."""
    calls = [ToolCall("apply_patch", PATCH, kind="custom"), ToolCall("exec_command", '{"cmd": "ls"}')]
    fake = FakeUpstream([Reply(tool_calls=calls), Reply(tool_calls=calls)])
    chunks, _ = await stream_events(fake)
    tc_deltas = [
        c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if "tool_calls" in c["choices"][0]["delta"]
    ]
    custom = [t for t in tc_deltas if t["index"] == 0]
    assert custom[0] == {
        "index": 0,
        "id": "call_1",
        "type": "custom",
        "custom": {"name": "apply_patch", "input": ""},
    }
    assert all(set(p) == {"index", "custom"} and set(p["custom"]) == {"input"} for p in custom[1:])
    assert len(custom) - 1 == 3
    assert "".join(p["custom"]["input"] for p in custom) == PATCH
    function = [t for t in tc_deltas if t["index"] == 1]
    assert function[0]["type"] == "function"
    assert "".join(p["function"]["arguments"] for p in function) == '{"cmd": "ls"}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"

    async with client_for(fake) as client:
        done = (await client.post("/chat/completions", json={"model": "m", "messages": MESSAGES})).json()
    assert done["choices"][0]["message"]["tool_calls"] == [
        {"id": "call_3", "type": "custom", "custom": {"name": "apply_patch", "input": PATCH}},
        {
            "id": "call_4",
            "type": "function",
            "function": {"name": "exec_command", "arguments": '{"cmd": "ls"}'},
        },
    ]
    parsed = openai.types.chat.ChatCompletion.model_validate(done)
    first = parsed.choices[0].message.tool_calls
    assert first is not None
    assert first[0].type == "custom"
    assert first[0].custom.input == PATCH


async def test_usage_chunk_only_with_include_usage() -> None:
    reply = Reply(text="a b c", prompt_tokens=7, cached_tokens=2, reasoning_tokens=1)
    fake = FakeUpstream([reply, reply])
    chunks, _ = await stream_events(fake)
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"

    chunks, lines = await stream_events(fake, stream_options={"include_usage": True})
    assert lines[-1] == "[DONE]"
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 1},
    }
    assert chunks[-1]["id"] == "chatcmpl-fake-2"


async def test_non_stream_shape() -> None:
    fake = FakeUpstream(
        [Reply(text="hi there", reasoning="hmm"), Reply(tool_calls=[ToolCall("search", '{"q": 1}')])]
    )
    async with client_for(fake) as client:
        first = (await client.post("/chat/completions", json={"model": "m", "messages": MESSAGES})).json()
        second = (await client.post("/chat/completions", json={"messages": MESSAGES, "stream": False})).json()
    assert first["object"] == "chat.completion"
    assert first["choices"][0]["message"] == {
        "role": "assistant",
        "content": "hi there",
        "refusal": None,
        "reasoning_content": "hmm",
    }
    assert first["choices"][0]["finish_reason"] == "stop"
    assert first["usage"]["prompt_tokens"] == len("hello there") // 4 + 1
    assert first["usage"]["completion_tokens"] == 3
    assert second["model"] == "fake-model"
    message = second["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": '{"q": 1}'}}
    ]
    assert second["choices"][0]["finish_reason"] == "tool_calls"


async def test_error_status_and_exhausted_script() -> None:
    custom = {"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit_exceeded"}}
    fake = FakeUpstream([Reply(status=503), Reply(status=429, error_body=custom)])
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    async with client_for(fake) as client:
        failed = await client.post("/chat/completions", json=body)
        limited = await client.post("/chat/completions", json=body)
        exhausted = await client.post("/chat/completions", json=body)
    assert failed.status_code == 503
    assert failed.json() == {
        "error": {"message": "scripted upstream failure", "type": "server_error", "code": None}
    }
    assert limited.status_code == 429
    assert limited.json() == custom
    assert exhausted.status_code == 500
    assert "exhausted" in exhausted.json()["error"]["message"]


async def test_broken_stream_ends_with_malformed_line() -> None:
    fake = FakeUpstream([Reply(text="one two three four", break_after_chunks=2)])
    chunks, lines = await stream_events(fake)
    assert len(chunks) == 2
    assert lines[-1] == "{not json"
    assert "[DONE]" not in lines


async def test_requests_recorded_and_callable_script() -> None:
    seen: list[str] = []

    def script(body: dict[str, Any]) -> Reply:
        seen.append(body["messages"][-1]["content"])
        return Reply(text="ok")

    fake = FakeUpstream(script)
    async with client_for(fake) as client:
        for word in ("a", "b"):
            body = {"model": "m", "messages": [{"role": "user", "content": word}]}
            await client.post("/chat/completions", json=body)
    assert seen == ["a", "b"]
    assert [r["messages"][0]["content"] for r in fake.requests] == ["a", "b"]
    assert fake.requests[0]["model"] == "m"


async def test_token_delay_streams_frame_by_frame() -> None:
    fake = FakeUpstream([Reply(text="x y", token_delay=0.001)], token_delay=5.0)
    chunks, lines = await stream_events(fake)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "x y"
    assert lines[-1] == "[DONE]"


def test_auto_reply() -> None:
    call = auto_reply({"messages": MESSAGES, "tools": TOOLS})
    assert [(t.name, orjson.loads(t.arguments)) for t in call.tool_calls] == [
        ("search", {"query": "hello there"})
    ]
    tool_result = [*MESSAGES, {"role": "tool", "tool_call_id": "c", "content": "r"}]
    assert auto_reply({"messages": tool_result, "tools": TOOLS}, tokens=3).text == "token0 token1 token2"
    assert auto_reply({"messages": MESSAGES}).text.split() == [f"token{i}" for i in range(20)]


async def test_models_and_embeddings() -> None:
    fake = FakeUpstream(model_ids=["a", "b"])
    async with client_for(fake) as client:
        models = (await client.get("/models")).json()
        one = (await client.post("/embeddings", json={"model": "e", "input": "cat"})).json()
        many = (await client.post("/embeddings", json={"model": "e", "input": ["cat", "dog"]})).json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["a", "b"]
    assert models["data"][0] == {"id": "a", "object": "model", "created": 0, "owned_by": "fake"}
    assert one["object"] == "list"
    assert one["model"] == "e"
    assert set(one["usage"]) == {"prompt_tokens", "total_tokens"}
    vector = one["data"][0]["embedding"]
    assert len(vector) == 32
    assert math.isclose(sum(v * v for v in vector), 1.0)
    assert many["data"][0]["embedding"] == vector
    assert many["data"][1]["index"] == 1
    assert many["data"][1]["embedding"] != vector


async def test_openai_sdk_parses_stream_non_stream_and_embeddings() -> None:
    fake = FakeUpstream(
        [
            Reply(text="Hello from the fake.", reasoning="pondering"),
            Reply(tool_calls=[ToolCall("search", '{"query": "q"}')]),
            Reply(text="plain", cached_tokens=1),
            Reply(status=400),
        ]
    )
    http_client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=fake.app))
    async with openai.AsyncOpenAI(
        base_url="http://upstream/v1", api_key="x", http_client=http_client
    ) as client:
        stream = await client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            usage = chunk.usage or usage
        assert text == "Hello from the fake."
        assert usage is not None
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        args = ""
        async for chunk in stream:
            for tc in chunk.choices[0].delta.tool_calls or []:
                args += tc.function.arguments if tc.function and tc.function.arguments else ""
        assert orjson.loads(args) == {"query": "q"}

        done = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert done.choices[0].message.content == "plain"
        assert done.choices[0].finish_reason == "stop"
        assert done.usage is not None
        assert done.usage.prompt_tokens_details is not None
        assert done.usage.prompt_tokens_details.cached_tokens == 1

        with pytest.raises(openai.BadRequestError, match="scripted upstream failure"):
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

        models = await client.models.list()
        assert [m.id for m in models.data] == ["fake-model"]
        emb = await client.embeddings.create(model="e", input=["cat"])
        assert len(emb.data[0].embedding) == 32
        assert math.isclose(sum(v * v for v in emb.data[0].embedding), 1.0, rel_tol=1e-5)


def test_cli_rejects_bad_arguments() -> None:
    with pytest.raises(SystemExit):
        main(["--port", "not-a-number"])

"""Seed 004 replayed through Parley: the model call after an empty web search must be exactly the
seed's (the offered ``web_search`` function and the empty tool result), or the replay finds no
recording and the response fails.

The seed holds the second model call of the peer's test, and gpt-4o's answer to it: two parallel
``web_search`` calls. Everything else is recorded here around it, as a live run would have recorded
it: the first model call (the seed's own first search call), the SearXNG answers (the first query
finds nothing, as in the seed; the second finds one page, written for this test) and the third
model call, which answers citing that page. Everything replays: no live call is possible. The
assistant message differs from the seed's only where Parley writes its own: ``content`` is null
(the peer sent ``""``), the call carries no stream ``index``, and its id is Parley's (masked).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import openai
import orjson
import pytest
from openai.types.responses import ResponseFunctionWebSearch

from parley.recording.normalize import normalize_request
from parley.recording.store import Recording, RecordingStore
from parley.tools.web_search import CHAT_TOOL, tool_result_text
from tests.conftest import Harness
from tests.e2e.test_file_search import sdk_for
from tests.e2e.test_file_search_seeds import parley_body, tool_call_chunks
from tests.support.search_stub import SEARCH_URL
from tests.support.seeds import load_seed, seed_recording

SEED = "004_web_search_parallel_calls.json"
META = {
    "url": "https://ai.meta.com/blog/llama-4-multimodal-intelligence/",
    "title": "The Llama 4 herd",
    "content": "Llama 4 Maverick, a 17 billion active parameter model with 128 experts.",
}
ANSWER = "Llama 4 Maverick has 128 experts ([ai.meta.com](https://ai.meta.com/blog/llama-4-multimodal-intelligence/))."
PARLEY_CALL_ID = "call_" + "0" * 24  # Parley's derived ids are masked by the recorder


def body_with_tool(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {**parley_body(messages), "tools": [CHAT_TOOL]}


def searxng(store: RecordingStore, query: str, pages: list[dict[str, str]]) -> None:
    url = httpx2.URL(SEARCH_URL + "/search", params={"q": query, "format": "json"})
    request = normalize_request("GET", url, b"")
    content = orjson.dumps({"query": query, "results": pages})
    store.save(Recording(request, 200, {"content-type": "application/json"}, content))


def chat(store: RecordingStore, body: dict[str, Any], chunks: list[dict[str, Any]]) -> None:
    sse = b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks)
    store.save(dataclasses.replace(seed_recording(SEED, body), content=sse + b"data: [DONE]\n\n"))


def answer_chunks(text: str) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-answer", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o"}
    words = [word + " " for word in text.split(" ")]
    words[-1] = words[-1].rstrip()
    return [
        *({**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in words),
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]


def asked(query: str) -> list[dict[str, Any]]:
    """Parley's history of one web search: its assistant call and the tool result."""
    function = {"name": "web_search", "arguments": json.dumps({"query": query}, separators=(",", ":"))}
    call = {"id": PARLEY_CALL_ID, "type": "function", "function": function}
    return [{"role": "assistant", "content": None, "tool_calls": [call]}]


def record_seed(directory: Path) -> tuple[str, str, str]:
    """Every call of the run as recordings; returns the seed's three queries."""
    seed = load_seed(SEED)["request"]["body"]
    user, assistant, tool = seed["messages"]
    assert seed["tools"] == [CHAT_TOOL]  # the function is offered exactly as in the seed
    store = RecordingStore(directory)
    first = json.loads(assistant["tool_calls"][0]["function"]["arguments"])["query"]
    call = {k: v for k, v in assistant["tool_calls"][0].items() if k != "index"}
    chat(store, body_with_tool([user]), tool_call_chunks(call))
    searxng(store, first, [])
    empty = {**tool, "tool_call_id": PARLEY_CALL_ID}
    assert empty["content"] == tool_result_text(first, []) == ""  # an empty result: an empty message
    seed_call = body_with_tool([user, *asked(first), empty])
    store.save(seed_recording(SEED, seed_call))
    chunks = [entry["__data__"] for entry in load_seed(SEED)["response"]["body"]]
    arguments = ["", ""]
    for tool_call in (tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls") or ()):
        arguments[tool_call["index"]] += tool_call["function"]["arguments"]
    second, third = (json.loads(text)["query"] for text in arguments)
    searxng(store, second, [])
    searxng(store, third, [META])
    found = {"url": META["url"], "title": META["title"], "text": META["content"]}
    found_message = {
        "role": "tool",
        "tool_call_id": PARLEY_CALL_ID,
        "content": tool_result_text(third, [found]),
    }
    history = [user, *asked(first), empty, *asked(second), empty, *asked(third), found_message]
    chat(store, body_with_tool(history), answer_chunks(ANSWER))
    return first, second, third


async def test_seed_004_parallel_web_searches_are_replayed(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    h = harness_factory(
        wrap=lambda upstream: httpx2.MockTransport(lambda request: httpx2.Response(599)),  # no live calls
        recording_mode="replay",
        recordings_dir=tmp_path / "recordings",
        web_search_provider="searxng",
        searxng_url=SEARCH_URL,
    )
    queries = record_seed(tmp_path / "recordings")
    response = await sdk_for(h).responses.create(
        model="gpt-4o",
        input="How many experts does the Llama 4 Maverick model have?",
        tools=[{"type": "web_search"}],
        include=["web_search_call.action.sources"],
    )
    assert response.status == "completed", response.error
    assert [item.type for item in response.output] == ["web_search_call"] * 3 + ["message"]
    calls = [item for item in response.output if isinstance(item, ResponseFunctionWebSearch)]
    assert tuple(c.action.query for c in calls) == queries  # type: ignore[union-attr]
    assert [len(c.action.sources or []) for c in calls] == [0, 0, 1]  # type: ignore[union-attr]
    assert response.output_text == ANSWER
    link = "[ai.meta.com](https://ai.meta.com/blog/llama-4-multimodal-intelligence/)"
    annotation = response.output[3].model_dump()["content"][0]["annotations"][0]
    assert annotation == {
        "type": "url_citation", "url": META["url"], "title": META["title"],
        "start_index": ANSWER.index(link), "end_index": ANSWER.index(link) + len(link),
    }  # fmt: skip


async def test_a_search_missing_from_the_recordings_fails_loudly_in_replay(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    h = harness_factory(
        wrap=lambda upstream: httpx2.MockTransport(lambda request: httpx2.Response(599)),
        recording_mode="replay",
        recordings_dir=tmp_path / "recordings",
        web_search_provider="searxng",
        searxng_url=SEARCH_URL,
    )
    seed = load_seed(SEED)["request"]["body"]
    call = {k: v for k, v in seed["messages"][1]["tool_calls"][0].items() if k != "index"}
    chat(
        RecordingStore(tmp_path / "recordings"), body_with_tool(seed["messages"][:1]), tool_call_chunks(call)
    )
    with pytest.raises(openai.InternalServerError, match="No recording for GET /search"):
        await sdk_for(h).responses.create(
            model="gpt-4o", input=seed["messages"][0]["content"], tools=[{"type": "web_search"}]
        )

"""Seeds 000 and 001 replayed through Parley: the model call after the search must be exactly the
seed's (its tool result layout and its offered tool), or the replay finds no recording and fails.

Each seed holds the second model call of its test (the one that reads the search results) and the
answer gpt-4o streamed to it. The first call (the model asking to search) is not in the seed, so
its recording is made here from the seed's own tool call. The second call's recording is keyed by
the seed's request with three things that belong to the peer's run swapped for Parley's: the file
ids Parley gave the same files, the chunks in the order Parley's search ranks them (the seed's
two results are a near tie), and ``metadata_token_count``, which counts the id's tokens. Scores and
Parley's generated ids are masked by the recorder's normalization. (With the peer's own ids and
order, ``tests/tools/test_file_search_layout.py`` checks the layout byte for byte.)
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import openai
from openai.types.responses import ResponseFileSearchToolCall, ResponseOutputMessage, ResponseOutputText

from parley.recording.store import RecordingStore
from parley.retrieval.chunking import count_tokens
from parley.tools.file_search import CHAT_TOOL
from tests.conftest import Harness
from tests.e2e.test_file_search import CORPUS, Q1, corpus_store, sdk_for
from tests.support.seeds import load_seed, seed_chunks, seed_recording

SEED_FILE_IDS = {"file-151637398237": "eu_marketing_q1.txt", "file-151637398235": "us_marketing_q1.txt"}


def parley_body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The chat body Parley sends for these messages with file_search offered."""
    return {
        "model": "gpt-4o",
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": [CHAT_TOOL],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }


def tool_call_chunks(call: dict[str, Any]) -> list[dict[str, Any]]:
    delta = {"role": "assistant", "tool_calls": [{"index": 0, **call}]}
    base = {"id": "chatcmpl-seed", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o"}
    return [
        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]


def _recount(part: dict[str, Any]) -> dict[str, Any]:
    """The part with ``metadata_token_count`` counted for the ids it now carries."""
    match = re.search(r"attributes: (\{.*\}) \(cite as", part["text"])
    if match is None:
        return part
    attributes = ast.literal_eval(match.group(1))
    shown = {k: v for k, v in attributes.items() if not k.endswith("token_count")}
    count = float(count_tokens(" ".join(f"{key}: {value}" for key, value in shown.items())))
    text = re.sub(r"'metadata_token_count': [0-9.]+", f"'metadata_token_count': {count!r}", part["text"])
    return {**part, "text": text}


def _in_order(parts: list[dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """The numbered result parts in ``order`` (filenames), renumbered."""
    results = sorted(parts[1:-2], key=lambda part: next(i for i, f in enumerate(order) if f in part["text"]))
    renumbered = [{**p, "text": re.sub(r"^\[\d+\]", f"[{n}]", p["text"])} for n, p in enumerate(results, 1)]
    return [parts[0], *renumbered, *parts[-2:]]


def swap_ids(chunks: list[dict[str, Any]], swaps: dict[str, str]) -> list[dict[str, Any]]:
    """The answer's chunks citing Parley's ids where the peer's stood. gpt-4o streamed each id over
    several chunks (``151``, ``637``, ...): the new id goes where the old one starts and the chunks
    that held the rest of it stream empty, so the markers still arrive split."""
    pieces = [(c["choices"][0]["delta"].get("content") or "") if c["choices"] else "" for c in chunks]
    text = "".join(pieces)
    starts = [sum(len(p) for p in pieces[:i]) for i in range(len(pieces))]
    for old, new in swaps.items():
        for found in re.finditer(re.escape(old), text):
            for i, start in enumerate(starts):
                piece_end = start + len(pieces[i])
                if piece_end <= found.start() or start >= found.end():
                    continue
                head = pieces[i][: max(0, found.start() - start)]
                tail = pieces[i][max(0, found.end() - start) :]
                pieces[i] = head + (new if start <= found.start() < piece_end else "") + tail
    swapped = []
    for chunk, piece in zip(chunks, pieces, strict=True):
        if chunk["choices"] and chunk["choices"][0]["delta"].get("content") is not None:
            delta = {**chunk["choices"][0]["delta"], "content": piece}
            chunk = {**chunk, "choices": [{**chunk["choices"][0], "delta": delta}]}
        swapped.append(chunk)
    return swapped


def record_seed(directory: Path, name: str, file_ids: dict[str, str], order: list[str]) -> str:
    """Both model calls of the seed's test as recordings; returns the answer the seed streamed."""
    seed = load_seed(name)
    text = json.dumps(seed["request"]["body"]["messages"])
    for seed_id, filename in SEED_FILE_IDS.items():
        text = text.replace(seed_id, file_ids.get(filename, seed_id))
    user, assistant, tool = json.loads(text)
    tool["content"] = [_recount(part) for part in _in_order(tool["content"], order)]
    call = assistant["tool_calls"][0]
    store = RecordingStore(directory)
    first = seed_recording(name, parley_body([user]))
    sse = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in tool_call_chunks(call))
    store.save(dataclasses.replace(first, content=sse + b"data: [DONE]\n\n"))
    parley_call = {"id": "call_" + "0" * 24, "type": "function", "function": call["function"]}
    asked = {"role": "assistant", "content": None, "tool_calls": [parley_call]}
    second = seed_recording(name, parley_body([user, asked, {**tool, "tool_call_id": parley_call["id"]}]))
    swaps = {
        seed_id: file_ids[filename] for seed_id, filename in SEED_FILE_IDS.items() if filename in file_ids
    }
    chunks = swap_ids(seed_chunks(name), swaps)
    sse = b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks)
    store.save(dataclasses.replace(second, content=sse + b"data: [DONE]\n\n"))
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def _no_live_calls(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(599, text="live call attempted in replay mode")


def replaying(harness_factory: Callable[..., Harness], tmp_path: Path) -> Harness:
    return harness_factory(
        wrap=lambda upstream: httpx2.MockTransport(_no_live_calls),
        recording_mode="replay",
        recordings_dir=tmp_path / "recordings",
    )


async def test_seed_001_filtered_search_is_replayed_with_its_citations(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    h = replaying(harness_factory, tmp_path)
    sdk = sdk_for(h)
    store_id, ids = await corpus_store(sdk)
    ranked = await sdk.vector_stores.search(store_id, query="key events in Q1 2023", filters=Q1)  # type: ignore[arg-type]
    order = [result.filename for result in ranked.data]
    assert sorted(order) == ["eu_marketing_q1.txt", "us_marketing_q1.txt"]
    answer = record_seed(tmp_path / "recordings", "001_file_search_filter_by_date_range.json", ids, order)
    tool: Any = {"type": "file_search", "vector_store_ids": [store_id], "filters": Q1}
    response = await sdk.responses.create(
        model="gpt-4o", input="What happened in Q1 2023?", tools=[tool], include=["file_search_call.results"]
    )
    assert response.status == "completed", response.error
    search, message = response.output
    assert isinstance(search, ResponseFileSearchToolCall)
    assert isinstance(message, ResponseOutputMessage)
    assert isinstance(message.content[0], ResponseOutputText)
    assert [r.filename for r in search.results or []] == order
    expected_text = re.sub(r" <\|file-\w+\|>", "", answer)
    assert response.output_text == expected_text
    annotations = [a.model_dump() for a in message.content[0].annotations]
    assert annotations == [
        {"type": "file_citation", "file_id": ids["eu_marketing_q1.txt"], "filename": "eu_marketing_q1.txt",
         "index": expected_text.index(" In the US") - 1},
        {"type": "file_citation", "file_id": ids["us_marketing_q1.txt"], "filename": "us_marketing_q1.txt",
         "index": len(expected_text) - 1},
    ]  # fmt: skip
    assert response.usage is not None
    assert response.usage.output_tokens == 66


async def test_seed_000_empty_store_is_replayed(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    h = replaying(harness_factory, tmp_path)
    sdk: openai.AsyncOpenAI = sdk_for(h)
    store = await sdk.vector_stores.create(name="empty")
    answer = record_seed(tmp_path / "recordings", "000_file_search_empty_vector_store.json", {}, [])
    response = await sdk.responses.create(
        model="gpt-4o",
        input="How many experts does the Llama 4 Maverick model have?",
        tools=[{"type": "file_search", "vector_store_ids": [store.id]}],
    )
    assert response.status == "completed", response.error
    assert [item.type for item in response.output] == ["file_search_call", "message"]
    assert response.output_text == answer
    assert len(CORPUS) == 4

"""file_search in ``/v1/responses`` with the openai SDK: the search runs between model calls, the
model reads the seeds' layout, and its ``<|file-id|>`` markers become ``file_citation`` annotations."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import openai
import pytest
from openai.types.responses import ResponseFileSearchToolCall, ResponseOutputMessage, ResponseOutputText
from openai.types.responses.response_output_text import AnnotationFileCitation

from parley.testing.fake_upstream import Reply, ToolCall
from tests.conftest import Harness
from tests.support.wire import check_event

# The peer's corpus for its filter tests (seed 001 comes from one of them).
CORPUS: list[tuple[str, str, dict[str, str | float | bool]]] = [
    ("us_marketing_q1.txt",
     "US promotional campaigns for Q1 2023. Revenue increased by 15% in the US region.",
     {"region": "us", "category": "marketing", "date": 1672531200}),
    ("us_engineering_q2.txt", "US technical updates for Q2 2023. New features deployed in the US region.",
     {"region": "us", "category": "engineering", "date": 1680307200}),
    ("eu_marketing_q1.txt", "European advertising campaign results for Q1 2023. Strong growth in EU markets.",
     {"region": "eu", "category": "marketing", "date": 1672531200}),
    ("asia_sales_q3.txt", "Asia Pacific revenue figures for Q3 2023. Record breaking quarter in Asia.",
     {"region": "asia", "category": "sales", "date": 1688169600}),
]  # fmt: skip
Q1 = {
    "type": "and",
    "filters": [
        {"type": "gte", "key": "date", "value": 1672531200},
        {"type": "lt", "key": "date", "value": 1680307200},
    ],
}
DEEP: dict[str, Any] = {"type": "eq", "key": "a", "value": 1}
for _ in range(11):
    DEEP = {"type": "and", "filters": [DEEP]}
CITED = re.compile(r"\(cite as <\|(file-[0-9a-f]+)\|>\)")


def sdk_for(harness: Harness) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://parley.test/v1", api_key="test", http_client=harness.client, max_retries=0
    )


async def corpus_store(sdk: openai.AsyncOpenAI) -> tuple[str, dict[str, str]]:
    """A vector store holding the corpus, every file ingested; returns its id and file ids by name."""
    store = await sdk.vector_stores.create(name="reports")
    ids: dict[str, str] = {}
    for name, text, attributes in CORPUS:
        file = await sdk.files.create(file=(name, text.encode()), purpose="assistants")
        await sdk.vector_stores.files.create(vector_store_id=store.id, file_id=file.id, attributes=attributes)
        ids[name] = file.id
    for _ in range(3000):
        current = await sdk.vector_stores.retrieve(store.id)
        if current.file_counts.in_progress == 0:
            assert current.file_counts.completed == len(CORPUS)
            return store.id, ids
        await asyncio.sleep(0.01)
    raise AssertionError("ingestion did not finish")


async def q1_setup(
    harness_factory: Callable[..., Harness],
) -> tuple[Harness, openai.AsyncOpenAI, dict[str, str], Any]:
    """Parley over the citing model, the corpus in a store, and file_search over Q1 of it."""
    h = harness_factory(citing_model("key events in Q1 2023"))
    sdk = sdk_for(h)
    store_id, ids = await corpus_store(sdk)
    return h, sdk, ids, {"type": "file_search", "vector_store_ids": [store_id], "filters": Q1}


def tool_text(body: dict[str, Any]) -> str | None:
    """The last tool message's text, if the model has been given one."""
    message = body["messages"][-1]
    if message["role"] != "tool":
        return None
    content = message["content"]
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


def citing_model(query: str) -> Callable[[dict[str, Any]], Reply]:
    """Searches first; then answers citing, in order, every file the search returned."""

    def reply(body: dict[str, Any]) -> Reply:
        text = tool_text(body)
        if text is None:
            return Reply(tool_calls=[ToolCall("knowledge_search", json.dumps({"query": query}))])
        sentences = [f"Finding {n} <|{file_id}|>." for n, file_id in enumerate(CITED.findall(text), 1)]
        return Reply(text=" ".join(sentences) or "Nothing was found.")

    return reply


async def test_the_answer_cites_the_files_the_filtered_search_returned(
    harness_factory: Callable[..., Harness],
) -> None:
    h, sdk, ids, tool = await q1_setup(harness_factory)
    response = await sdk.responses.create(model="fake-model", input="What happened in Q1 2023?", tools=[tool])

    search, message = response.output
    assert search.type == "file_search_call"
    assert search.status == "completed"
    assert search.queries == ["key events in Q1 2023"]
    assert search.results is None  # only with include=["file_search_call.results"]
    assert message.type == "message"
    text = response.output_text
    assert "<|" not in text
    assert "file-" not in text
    assert isinstance(message, ResponseOutputMessage)
    assert isinstance(message.content[0], ResponseOutputText)
    annotations = message.content[0].annotations
    cited = {(a.file_id, a.filename) for a in annotations if isinstance(a, AnnotationFileCitation)}
    assert cited == {
        (ids["us_marketing_q1.txt"], "us_marketing_q1.txt"),
        (ids["eu_marketing_q1.txt"], "eu_marketing_q1.txt"),
    }
    for annotation in annotations:
        assert annotation.type == "file_citation"
        assert text[annotation.index - 1].isdigit()
        assert text[annotation.index] == "."
    layout = tool_text(h.fake.requests[1])
    assert layout is not None
    assert layout.startswith("knowledge_search tool found 2 chunks:")


async def test_results_are_sent_only_when_included(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(citing_model("marketing"))
    sdk = sdk_for(h)
    store_id, _ids = await corpus_store(sdk)
    tool: Any = {"type": "file_search", "vector_store_ids": [store_id],
                 "filters": {"type": "eq", "key": "category", "value": "marketing"}}  # fmt: skip
    response = await sdk.responses.create(
        model="fake-model", input="Marketing?", tools=[tool], include=["file_search_call.results"]
    )
    search = response.output[0]
    assert isinstance(search, ResponseFileSearchToolCall)
    results = search.results
    assert results is not None
    assert {r.filename for r in results} == {"us_marketing_q1.txt", "eu_marketing_q1.txt"}
    assert all(r.text and r.attributes and 0 <= (r.score or 0) <= 1 for r in results)
    plain = await sdk.responses.retrieve(response.id)
    assert plain.output[0].model_dump()["results"] is None
    full = await sdk.responses.retrieve(response.id, include=["file_search_call.results"])
    assert full.output[0] == search


async def test_streamed_events_come_in_openai_order(harness_factory: Callable[..., Harness]) -> None:
    _h, sdk, _ids, tool = await q1_setup(harness_factory)
    stream = await sdk.responses.create(
        model="fake-model", input="What happened in Q1 2023?", tools=[tool], stream=True
    )
    events = [event.model_dump(mode="json", exclude_unset=True) async for event in stream]
    for event in events:
        check_event(event)
    kinds = [e["type"] for e in events]
    head = [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
    ]
    tail = ["response.output_text.done", "response.content_part.done", "response.output_item.done",
            "response.completed"]  # fmt: skip
    assert kinds[: len(head)] == head
    assert kinds[-len(tail) :] == tail
    middle = set(kinds[len(head) : -len(tail)])
    assert middle == {"response.output_text.delta", "response.output_text.annotation.added"}
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    added = [e for e in events if e["type"] == "response.output_text.annotation.added"]
    assert [e["annotation_index"] for e in added] == [0, 1]
    assert all(e["output_index"] == 1 and e["content_index"] == 0 for e in added)
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    done = next(e for e in events if e["type"] == "response.output_text.done")
    assert deltas == done["text"]
    assert "<|" not in deltas
    final = events[-1]["response"]["output"][1]["content"][0]
    assert final["annotations"] == [e["annotation"] for e in added]


async def test_the_next_turn_sees_the_results_as_the_model_saw_them(
    harness_factory: Callable[..., Harness],
) -> None:
    h, sdk, _ids, tool = await q1_setup(harness_factory)
    first = await sdk.responses.create(model="fake-model", input="What happened in Q1 2023?", tools=[tool])
    await sdk.responses.create(model="fake-model", input="Thanks!", previous_response_id=first.id)
    seen, later = h.fake.requests[1]["messages"], h.fake.requests[2]["messages"]
    assert later[: len(seen)] == seen
    assert later[len(seen)]["role"] == "assistant"
    assert later[-1] == {"role": "user", "content": "Thanks!"}


async def test_an_empty_store_still_lets_the_model_answer(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(citing_model("Llama 4 Maverick model number of experts"))
    sdk = sdk_for(h)
    store = await sdk.vector_stores.create(name="empty")
    response = await sdk.responses.create(
        model="fake-model",
        input="How many experts does the Llama 4 Maverick model have?",
        tools=[{"type": "file_search", "vector_store_ids": [store.id]}],
    )
    assert [item.type for item in response.output] == ["file_search_call", "message"]
    assert response.output_text == "Nothing was found."
    assert tool_text(h.fake.requests[1]) == (
        "knowledge_search tool found 0 chunks:\nBEGIN of knowledge_search tool results.\n"
        "END of knowledge_search tool results.\n"
        "The above results were retrieved to help answer the user's query: \"Llama 4 Maverick model number "
        'of experts". Use them as supporting information only in answering this query.\n'
    )


@pytest.mark.parametrize(
    ("tool", "status", "param"),
    [
        ({"type": "file_search", "vector_store_ids": ["vs_missing"]}, 404, "tools[0].vector_store_ids[0]"),
        ({"type": "file_search", "vector_store_ids": []}, 400, "tools[0].vector_store_ids"),
        ({"type": "file_search", "vector_store_ids": ["<store>"], "filters": {"type": "like", "key": "a",
          "value": 1}}, 400, "tools[0].filters.type"),
        ({"type": "file_search", "vector_store_ids": ["<store>"], "filters": DEEP}, 400,
         "tools[0].filters" + ".filters[0]" * 10),
        ({"type": "file_search", "vector_store_ids": ["<store>"], "max_num_results": 51}, 400,
         "tools[0].max_num_results"),
    ],
)  # fmt: skip
async def test_a_bad_file_search_tool_is_refused_before_anything_runs(
    harness_factory: Callable[..., Harness], tool: dict[str, Any], status: int, param: str
) -> None:
    h = harness_factory([])
    store = (await h.client.post("/v1/vector_stores", json={"name": "s"})).json()
    tool = {
        **tool,
        "vector_store_ids": [store["id"] if v == "<store>" else v for v in tool["vector_store_ids"]],
    }
    r = await h.create(input="hi", tools=[tool])
    assert r.status_code == status, r.text
    assert r.json()["error"]["param"] == param
    assert h.fake.requests == []


async def test_a_stateless_caller_echoing_the_search_gives_the_model_the_same_results(
    harness_factory: Callable[..., Harness],
) -> None:
    h, sdk, _ids, tool = await q1_setup(harness_factory)
    first = await sdk.responses.create(
        model="fake-model",
        input="What happened in Q1 2023?",
        tools=[tool],
        store=False,
        include=["file_search_call.results"],
    )
    echoed = [item.model_dump(mode="json", exclude_none=True) for item in first.output]
    history: Any = [{"role": "user", "content": "What happened in Q1 2023?"}, *echoed]
    await sdk.responses.create(model="fake-model", input=[*history, {"role": "user", "content": "Thanks!"}])
    seen, later = h.fake.requests[1]["messages"], h.fake.requests[2]["messages"]
    assert later[2] == seen[2]  # the tool message: the same layout, the same results
    assert later[1]["tool_calls"][0]["function"] == seen[1]["tool_calls"][0]["function"]


async def test_ranking_options_reach_the_search(harness_factory: Callable[..., Harness]) -> None:
    h, sdk, _, tool = await q1_setup(harness_factory)
    strict: Any = {**tool, "ranking_options": {"score_threshold": 0.995}}
    kept = await sdk.responses.create(
        model="fake-model", input="Q1?", tools=[strict], include=["file_search_call.results"]
    )
    scores = [r["score"] for r in kept.output[0].model_dump()["results"]]
    assert len(scores) <= 1  # only a chunk first in both rankings scores 1.0
    assert all(score >= 0.995 for score in scores)
    weights = {"embedding_weight": 0.0, "text_weight": 1.0}
    text_only: Any = {**tool, "max_num_results": 1, "ranking_options": {"hybrid_search": weights}}
    one = await sdk.responses.create(
        model="fake-model", input="Q1?", tools=[text_only], include=["file_search_call.results"]
    )
    (result,) = one.output[0].model_dump()["results"]
    assert result["score"] == 1.0  # first in the keyword ranking, which alone counts
    assert tool_text(h.fake.requests[-1]) is not None

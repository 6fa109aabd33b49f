"""The tool message the model reads is the seeds' layout, byte for byte."""

from __future__ import annotations

import json

import pytest

from parley.tools.base import query_argument as _query
from parley.tools.file_search import CHAT_TOOL, read_call, tool_result_parts
from tests.support.seeds import load_seed

EU = {
    "file_id": "file-151637398237",
    "filename": "eu_marketing_q1.txt",
    "score": 0.0590087872544405,
    "text": "European advertising campaign results for Q1 2023. Strong growth in EU markets.",
    "attributes": {"region": "eu", "category": "marketing", "date": 1672531200},
}
US = {
    "file_id": "file-151637398235",
    "filename": "us_marketing_q1.txt",
    "score": 0.057769758607676185,
    "text": "US promotional campaigns for Q1 2023. Revenue increased by 15% in the US region.",
    "attributes": {"region": "us", "category": "marketing", "date": 1672531200},
}


def seed_tool_message(name: str) -> dict[str, object]:
    message: dict[str, object] = load_seed(name)["request"]["body"]["messages"][-1]
    return message


def test_results_are_laid_out_as_in_seed_001() -> None:
    expected = seed_tool_message("001_file_search_filter_by_date_range.json")["content"]
    assert tool_result_parts("key events in Q1 2023", [EU, US]) == expected


def test_no_results_are_laid_out_as_in_seed_000() -> None:
    expected = seed_tool_message("000_file_search_empty_vector_store.json")["content"]
    assert tool_result_parts("Llama 4 Maverick model number of experts", []) == expected


def test_the_offered_function_is_the_seeds() -> None:
    for seed in ("000_file_search_empty_vector_store.json", "001_file_search_filter_by_date_range.json"):
        assert load_seed(seed)["request"]["body"]["tools"] == [CHAT_TOOL]


def test_a_stored_call_reads_back_as_the_call_and_the_result_the_model_saw() -> None:
    item = {
        "id": "fs_0123456789abcdef0123456789abcdef",
        "type": "file_search_call",
        "status": "completed",
        "queries": ["key events in Q1 2023"],
        "results": [EU, US],
    }
    piece = read_call(item, names=None)  # type: ignore[arg-type]
    (call,) = piece.tool_calls
    (message,) = piece.messages
    assert call["function"] == {"name": "knowledge_search", "arguments": '{"query":"key events in Q1 2023"}'}
    assert len(call["id"]) <= 40
    assert message["tool_call_id"] == call["id"]
    assert message["content"] == tool_result_parts("key events in Q1 2023", [EU, US])
    assert json.loads(call["function"]["arguments"]) == {"query": "key events in Q1 2023"}


@pytest.mark.parametrize(
    ("arguments", "query"),
    [
        ('{"query": "q1 results"}', "q1 results"),
        ('{"q": "q1", "region": "eu"}', "q1 eu"),  # a model that named the parameter otherwise
        ("q1 results", "q1 results"),  # not JSON at all
        ('["q1"]', "['q1']"),
        ("", ""),
    ],
)
def test_the_query_is_read_leniently(arguments: str, query: str) -> None:
    assert _query(arguments) == query

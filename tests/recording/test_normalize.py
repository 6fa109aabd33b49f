"""Normalization decides which requests share a recording; these pin that down."""

from __future__ import annotations

import httpx2
import pytest

from parley.recording import request_key
from parley.recording.normalize import VOLATILE_KEYS, normalize_ids, normalize_request

HEX = "0123456789abcdef" * 3
OTHER_HEX = "fedcba9876543210" * 3


def test_keeps_method_path_and_json_body_without_host() -> None:
    url = httpx2.URL("https://api.example.com:8443/v1/chat/completions")
    normalized = normalize_request("post", url, b'{"model": "m", "n": 1}')
    assert normalized == {"method": "POST", "path": "/v1/chat/completions", "body": {"model": "m", "n": 1}}


def test_query_string_is_sorted() -> None:
    a = normalize_request("GET", httpx2.URL("http://a.test/search?q=x&a=1&q=b"), b"")
    b = normalize_request("GET", httpx2.URL("http://b.test/search?a=1&q=b&q=x"), b"")
    assert a["path"] == "/search?a=1&q=b&q=x"
    assert a == b
    assert a["body"] is None


def test_non_json_body_is_kept_as_text() -> None:
    normalized = normalize_request("POST", httpx2.URL("http://a.test/x"), b"plain words")
    assert normalized["body"] == "plain words"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"fc_{HEX}", "fc_<id>"),
        (f"resp_{HEX}", "resp_<id>"),
        (f"call_{HEX}", "call_<id>"),
        (f"tsc_{HEX}", "tsc_<id>"),
        (f"file-{HEX}", "file-<id>"),
        (f"see msg_{HEX} and file-{OTHER_HEX}.", "see msg_<id> and file-<id>."),
        (f"fc_{HEX}0", f"fc_{HEX}0"),  # 49 hex digits: not a generated id
        (f"xfc_{HEX}", f"xfc_{HEX}"),  # part of a longer word
        (f"fc_{HEX.upper()}", f"fc_{HEX.upper()}"),  # generated ids are lower-case
        (f"chatcmpl_{HEX}", f"chatcmpl_{HEX}"),  # not one of Parley's prefixes
    ],
)
def test_generated_ids_become_placeholders(value: str, expected: str) -> None:
    assert normalize_ids(value) == expected


def test_ids_are_normalized_at_any_depth() -> None:
    body = f'{{"messages": [{{"tool_call_id": "fc_{HEX}", "content": "ref resp_{HEX}"}}], "k": 3}}'
    normalized = normalize_request("POST", httpx2.URL("http://a.test/v1/x"), body.encode())
    assert normalized["body"] == {
        "messages": [{"tool_call_id": "fc_<id>", "content": "ref resp_<id>"}],
        "k": 3,
    }


def test_volatile_keys_are_empty_by_default_but_dropped_when_given() -> None:
    assert frozenset() == VOLATILE_KEYS
    body = b'{"user": "u1", "input": [{"user": "u2", "text": "hi"}]}'
    url = httpx2.URL("http://a.test/v1/x")
    assert normalize_request("POST", url, body)["body"]["user"] == "u1"
    dropped = normalize_request("POST", url, body, volatile_keys=frozenset({"user"}))
    assert dropped["body"] == {"input": [{"text": "hi"}]}


def test_request_key_is_sha256_of_canonical_json() -> None:
    a = {"method": "POST", "path": "/p", "body": {"a": 1, "b": [1, 2]}}
    b = {"body": {"b": [1, 2], "a": 1}, "path": "/p", "method": "POST"}
    key = request_key(a)
    assert key == request_key(b)
    assert len(key) == 64
    assert int(key, 16) >= 0
    assert key != request_key({**a, "path": "/q"})


def test_search_scores_and_derived_call_ids_are_masked() -> None:
    text = "[1] document_id: file-x, score: 0.0590087872544405, attributes: {} (cite as <|file-x|>)"
    assert normalize_ids(text) == text.replace("0.0590087872544405", "<score>")
    assert normalize_ids("call_0123456789abcdef01234567") == "call_<id>"
    model_id = "call_a6TuAAAmLcfVWfz4H3VriVLv"  # a model's own id stays
    assert normalize_ids(model_id) == model_id
    assert normalize_ids("a score: of ten") == "a score: of ten"

"""Token windows with overlap over o200k_base, and OpenAI's chunking_strategy validation."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import pytest

from parley.errors import InvalidRequest
from parley.retrieval.chunking import (
    ChunkingStrategy,
    TextChunk,
    chunk_text,
    count_tokens,
    parse_chunking_strategy,
)
from parley.retrieval.tokens import encode, rank_file_bytes

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "small"]


def words(n: int, start: int = 0) -> str:
    """Common words, each one o200k token (with its leading space), so every boundary is clean."""
    return "".join(f" {WORDS[i % len(WORDS)]}" for i in range(start, n))


def test_rank_file_is_openais_o200k_base() -> None:
    digest = hashlib.sha256(rank_file_bytes()).hexdigest()
    assert digest == "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"  # tiktoken's pin


def test_counts_match_openais_tokenizer() -> None:
    assert count_tokens("hello world") == 2
    assert encode("hello world") == [24912, 2375]  # o200k_base ids, as tiktoken gives them
    assert count_tokens("<|endoftext|>") > 1  # special tokens in a document are plain text


def test_consecutive_chunks_share_exactly_the_overlap() -> None:
    text = words(1000)
    assert count_tokens(text) == 1000
    chunks = chunk_text(text, ChunkingStrategy(200, 50))
    ids = [encode(chunk.text) for chunk in chunks]
    assert [len(i) for i in ids] == [200, 200, 200, 200, 200, 200, 100]
    for before, after in itertools.pairwise(ids):
        assert before[-50:] == after[:50]
    assert [chunk.text for chunk in chunks] == [words(min(s + 200, 1000), s) for s in range(0, 1000, 150)]


def test_no_overlap_partitions_the_text() -> None:
    text = words(450)
    chunks = chunk_text(text, ChunkingStrategy(100, 0))
    assert "".join(chunk.text for chunk in chunks) == text
    assert [chunk.token_count for chunk in chunks] == [100, 100, 100, 100, 50]


def test_token_count_is_the_count_of_the_chunk_text() -> None:
    text = (
        "Paragraph one talks about vector stores.\n\n" * 60 + "Ünïcödé 😀 text, 東京の天気は晴れです。" * 40
    )
    chunks = chunk_text(text, ChunkingStrategy(100, 40))
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.token_count == count_tokens(chunk.text)
        assert chunk.token_count <= 100
        assert chunk.text in text


def test_words_are_never_cut() -> None:
    text = " ".join(f"internationalization{i}" for i in range(300))  # several tokens per word
    for chunk in chunk_text(text, ChunkingStrategy(100, 30)):
        assert all(word.startswith("internationalization") for word in chunk.text.split())


def test_text_without_spaces_is_cut_between_characters() -> None:
    text = "東京の天気は晴れです😀" * 300
    chunks = chunk_text(text, ChunkingStrategy(100, 50))
    assert len(chunks) > 10
    assert all("\ufffd" not in chunk.text and chunk.text in text for chunk in chunks)


def test_short_and_blank_texts() -> None:
    assert chunk_text("one chunk only", ChunkingStrategy()) == [TextChunk("one chunk only", 3)]
    assert chunk_text(" \n\t ", ChunkingStrategy()) == []


def test_auto_is_reported_as_static_800_400() -> None:
    for raw in (None, {"type": "auto"}):
        strategy = parse_chunking_strategy(raw)
        assert strategy == ChunkingStrategy(800, 400)
        assert strategy.wire() == {
            "type": "static",
            "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
        }


def static(size: object, overlap: object) -> dict[str, Any]:
    return {"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}}


def test_static_strategy_at_openais_limits() -> None:
    assert parse_chunking_strategy(static(100, 0)) == ChunkingStrategy(100, 0)
    assert parse_chunking_strategy(static(4096, 2048)) == ChunkingStrategy(4096, 2048)
    assert parse_chunking_strategy(static(101, 50)) == ChunkingStrategy(101, 50)


SIZE = "chunking_strategy.static.max_chunk_size_tokens"
OVERLAP = "chunking_strategy.static.chunk_overlap_tokens"


@pytest.mark.parametrize(
    ("raw", "param", "code"),
    [
        (static(99, 0), SIZE, "invalid_value"),
        (static(4097, 0), SIZE, "invalid_value"),
        (static(200, 101), OVERLAP, "invalid_value"),
        (static(200, -1), OVERLAP, "invalid_value"),
        (static("800", 0), SIZE, "invalid_type"),
        (static(800.0, 0), SIZE, "invalid_type"),
        (static(True, 0), SIZE, "invalid_type"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 800}}, OVERLAP, "missing_required_parameter"),
        ({"type": "static"}, "chunking_strategy.static", "missing_required_parameter"),
        ({"type": "other"}, "chunking_strategy.type", "invalid_value"),
        ({}, "chunking_strategy.type", "invalid_value"),
        ("auto", "chunking_strategy", "invalid_type"),
    ],
)  # fmt: skip
def test_invalid_strategies_name_the_parameter(raw: object, param: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_chunking_strategy(raw)
    assert (info.value.param, info.value.code) == (param, code)


def test_param_prefix_is_the_callers() -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_chunking_strategy({"type": "nope"}, param="files[2].chunking_strategy")
    assert info.value.param == "files[2].chunking_strategy.type"

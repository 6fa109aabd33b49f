"""Keyword search leaves out what would make it scan the whole index and rank nothing better."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parley.retrieval.chunks import ChunkTable, query_terms
from parley.retrieval.index import Chunk


def table(tmp_path: Path, texts: list[str]) -> ChunkTable:
    chunks = ChunkTable(tmp_path / "chunks.sqlite3", 4)
    rows = [Chunk(f"c{n}", f"file-{n}", 0, text, {}, 1) for n, text in enumerate(texts)]
    chunks.insert(rows, np.arange(len(rows), dtype=np.int64), lambda: None)
    return chunks


def test_stopwords_are_dropped_unless_nothing_else_is_left() -> None:
    assert query_terms("What is the capital of France?") == ['"capital"', '"france"']
    assert query_terms("to be or not to be") == ['"to"', '"be"', '"or"', '"not"']
    assert query_terms('NEAR("a b") OR x*') == ['"near"', '"b"', '"x"']


def test_common_terms_give_way_to_rare_ones_or_must_all_be_there(tmp_path: Path) -> None:
    texts = [f"weather report {n} for the coast" for n in range(2500)]
    texts += ["weather report about a hurricane", "a hurricane far out at sea"]
    chunks = table(tmp_path, texts)
    # "weather" is in 2501 of 2502 chunks: common; "hurricane" ranks the two that have it.
    hits = chunks.keyword("weather hurricane", 10, None)
    assert sorted(chunk.id for chunk, _ in hits) == ["c2500", "c2501"]
    # Only common terms: chunks holding all of them, not every chunk holding any.
    both = chunks.keyword("weather coast", 5000, None)
    assert len(both) == 2500
    assert all("coast" in chunk.text for chunk, _ in both)
    chunks.close()

"""Fusion: hand-made rankings for the arithmetic, real text for hybrid and multi-store search."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from parley.retrieval.embedded_index import open_index
from parley.retrieval.filters import parse_filter
from parley.retrieval.fusion import (
    Fusion,
    Ranker,
    best_of,
    hybrid_search,
    reciprocal_rank_fusion,
    search_store,
    weighted_fusion,
)
from parley.retrieval.index import Chunk, ChunkIndex, Hit, SearchMode, Vectors

DIM = 256
DOCS = [
    "The quarterly revenue report shows growth in the European market.",
    "Kubernetes pods are scheduled onto nodes by the scheduler.",
    "Our refund policy allows returns within thirty days of purchase.",
    "The error code E1234 means the disk quota was exceeded.",
    "Bananas are a good source of potassium and vitamin B6.",
    "The scheduler assigns each pod a node with enough free memory.",
    "Refunds for digital goods are not available after download.",
    "Revenue in Asia declined slightly during the second quarter.",
]


def hit(chunk_id: str, score: float) -> Hit:
    return Hit(Chunk(chunk_id, "f", 0, chunk_id, {}, 1), score)


def test_rrf_rewards_agreement_and_normalizes_to_one() -> None:
    vector = [hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)]
    keyword = [hit("b", 0.5), hit("d", 0.4), hit("a", 0.1)]
    fused = reciprocal_rank_fusion([vector, keyword], limit=10)
    assert [h.chunk.id for h in fused] == ["b", "a", "d", "c"]
    assert fused[0].score == pytest.approx((1 / 62 + 1 / 61) / (2 / 61))
    assert fused[3].score == pytest.approx((1 / 63) / (2 / 61))
    assert reciprocal_rank_fusion([[hit("x", 0.1)], [hit("x", 0.2)]])[0].score == pytest.approx(1.0)
    assert [h.chunk.id for h in reciprocal_rank_fusion([vector, keyword], limit=2)] == ["b", "a"]
    assert reciprocal_rank_fusion([]) == []


def test_rrf_breaks_ties_by_first_appearance() -> None:
    fused = reciprocal_rank_fusion([[hit("a", 1), hit("b", 1)], [hit("b", 1), hit("a", 1)]])
    assert [h.chunk.id for h in fused] == ["a", "b"]


def test_rrf_weights_lean_towards_one_list() -> None:
    vector, keyword = [hit("v", 0.9), hit("k", 0.1)], [hit("k", 0.9), hit("v", 0.1)]
    assert [h.chunk.id for h in reciprocal_rank_fusion([vector, keyword], weights=[3.0, 1.0])] == ["v", "k"]
    assert [h.chunk.id for h in reciprocal_rank_fusion([vector, keyword], weights=[1.0, 3.0])] == ["k", "v"]
    only_text = reciprocal_rank_fusion([vector, keyword], weights=[0.0, 1.0])
    assert [(h.chunk.id, round(h.score, 6)) for h in only_text] == [("k", 1.0), ("v", round(61 / 62, 6))]
    assert reciprocal_rank_fusion([vector, keyword], weights=[0.0, 0.0])[0].score == 0.0


def test_weighted_fusion_min_max_normalizes_each_list() -> None:
    vector = [hit("a", 0.9), hit("b", 0.5), hit("c", 0.1)]
    keyword = [hit("c", 0.8), hit("d", 0.2)]
    fused = {h.chunk.id: h.score for h in weighted_fusion(vector, keyword, alpha=0.75)}
    assert fused == pytest.approx({"a": 0.75, "b": 0.375, "c": 0.25, "d": 0.0})
    only_keyword = weighted_fusion(vector, keyword, alpha=0.0, limit=1)
    assert [(h.chunk.id, h.score) for h in only_keyword] == [("c", 1.0)]
    assert weighted_fusion([hit("a", 0.3)], [], alpha=0.5)[0].score == pytest.approx(0.5)
    with pytest.raises(ValueError, match="alpha"):
        weighted_fusion(vector, keyword, alpha=1.5)


def embed(text: str) -> np.ndarray:
    """A deterministic bag-of-words embedding: enough for similar texts to be near each other."""
    vector = np.zeros(DIM, dtype=np.float32)
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIM] += 1.0
    return (vector / max(float(np.linalg.norm(vector)), 1e-9)).astype(np.float32)


def store(directory: Path, docs: list[str], prefix: str) -> ChunkIndex:
    index = open_index(directory, DIM)
    for n, text in enumerate(docs):
        chunk = Chunk(
            f"{prefix}{n}:0", f"{prefix}{n}", 0, text, {"topic": "money" if n in (0, 2, 6, 7) else "tech"}, 9
        )
        index.add([chunk], embed(text)[None, :])
    return index


@pytest.mark.parametrize("ranker", ["rrf", "weighted"])
def test_hybrid_search_on_real_text(tmp_path: Path, ranker: Ranker) -> None:
    index = store(tmp_path, DOCS, "d")
    query = "refund policy for digital downloads"
    hits = hybrid_search(index, embed(query), query, 3, None, fusion=Fusion(ranker))
    assert {h.chunk.file_id for h in hits[:2]} == {"d2", "d6"}
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    money = parse_filter({"type": "eq", "key": "topic", "value": "money"})
    filtered = hybrid_search(index, embed("scheduler"), "scheduler revenue", 8, money, fusion=Fusion(ranker))
    assert filtered
    assert {h.chunk.file_id for h in filtered} <= {"d0", "d2", "d6", "d7"}
    index.close()


def search_stores(
    indexes: list[ChunkIndex],
    vector: Vectors | None,
    text: str,
    k: int,
    mode: SearchMode,
    score_threshold: float = 0.0,
) -> list[Hit]:
    """Several stores searched alike and merged, as a search over them is (``query.search_by_model``)."""
    hits = [hit for index in indexes for hit in search_store(index, vector, text, k, None, mode=mode)]
    return best_of(hits, k, score_threshold)


def test_search_stores_merges_thresholds_and_keeps_top_k(tmp_path: Path) -> None:
    first = store(tmp_path / "a", DOCS[:4], "a")
    second = store(tmp_path / "b", DOCS[4:], "b")
    query = "scheduler pods nodes"
    vector = embed(query)
    merged = search_stores([first, second], vector, query, 2, mode="vector")
    assert {h.chunk.file_id for h in merged} == {"a1", "b1"}
    keyword = search_stores([first, second], None, query, 5, mode="keyword")
    assert [h.chunk.file_id for h in keyword][:2] in (["a1", "b1"], ["b1", "a1"])
    assert all(h.score > 0 for h in keyword)
    hybrid = search_stores([first, second], vector, query, 10, mode="hybrid", score_threshold=0.5)
    assert hybrid
    assert all(h.score >= 0.5 for h in hybrid)
    scores = [h.score for h in search_stores([first, second], vector, query, 10, mode="hybrid")]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(ValueError, match="query vector"):
        search_stores([first], None, query, 3, mode="hybrid")
    first.close()
    second.close()

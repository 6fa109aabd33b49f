"""Combining rankings: vector + keyword within a store (hybrid), and several stores into one list.

Vector similarity and bm25 live on unrelated scales, so hybrid search fuses ranks or normalized
scores, never raw scores. Both fusions return scores in [0, 1] so one ``score_threshold`` means
something for every mode:

* ``reciprocal_rank_fusion``: ``sum(1 / (k + rank))`` over the rankings (rank from 1), divided by
  its maximum ``len(rankings) / (k + 1)``; a chunk first in every ranking scores 1.0, a chunk
  first in one of two rankings and absent from the other scores 0.5. Robust, needs no tuning.
* ``weighted_fusion``: ``alpha * vector + (1 - alpha) * keyword`` after min-max normalizing each
  list (a chunk missing from a list gets 0 from it). Tunable when one signal is known better.

Everything here is a pure function of its inputs except the two that call ``ChunkIndex`` methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from parley.retrieval.filters import Filter
from parley.retrieval.index import ChunkIndex, Hit, SearchMode, Vectors

Ranker = Literal["rrf", "weighted"]


@dataclass(frozen=True)
class Fusion:
    """How hybrid search merges its vector and keyword rankings: reciprocal rank fusion, each list
    weighted (``weights``: embedding, text; OpenAI's ``ranking_options.hybrid_search``), or a
    weighted sum of min-max scores (``alpha``: the vector share)."""

    ranker: Ranker = "rrf"
    alpha: float = 0.5
    weights: tuple[float, float] = (1.0, 1.0)


RRF_K = 60
DEFAULT_LIMIT = 10


def _ranked(scores: dict[str, float], hits: dict[str, Hit], limit: int) -> list[Hit]:
    """Best first; ties keep first-seen order (dicts preserve it and ``sorted`` is stable)."""
    order = sorted(scores, key=lambda chunk_id: -scores[chunk_id])[: max(limit, 0)]
    return [Hit(hits[chunk_id].chunk, scores[chunk_id]) for chunk_id in order]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Hit]],
    k: int = RRF_K,
    limit: int = DEFAULT_LIMIT,
    weights: Sequence[float] | None = None,
) -> list[Hit]:
    """Each list adds ``weight / (k + rank)``; the sum is divided by its best possible value, so a
    chunk first in every list scores 1.0 (``weights``: one per ranking, all 1 by default)."""
    if not rankings:
        return []
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    scores: dict[str, float] = {}
    hits: dict[str, Hit] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking, start=1):
            hits.setdefault(hit.chunk.id, hit)
            scores[hit.chunk.id] = scores.get(hit.chunk.id, 0.0) + weight / (k + rank)
    best = sum(weights) / (k + 1) or 1.0
    return _ranked({chunk_id: score / best for chunk_id, score in scores.items()}, hits, limit)


def _min_max(hits: Sequence[Hit]) -> dict[str, float]:
    """Scores rescaled to [0, 1] within the list; a list of equal scores all become 1.0."""
    if not hits:
        return {}
    low, high = min(hit.score for hit in hits), max(hit.score for hit in hits)
    span = high - low
    return {hit.chunk.id: (hit.score - low) / span if span > 0 else 1.0 for hit in hits}


def weighted_fusion(
    vector: Sequence[Hit], keyword: Sequence[Hit], alpha: float, limit: int = DEFAULT_LIMIT
) -> list[Hit]:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    vector_scores, keyword_scores = _min_max(vector), _min_max(keyword)
    hits = {hit.chunk.id: hit for hit in [*vector, *keyword]}
    scores = {
        chunk_id: alpha * vector_scores.get(chunk_id, 0.0) + (1 - alpha) * keyword_scores.get(chunk_id, 0.0)
        for chunk_id in hits
    }
    return _ranked(scores, hits, limit)


def fuse(by_vector: Sequence[Hit], by_keyword: Sequence[Hit], k: int, fusion: Fusion) -> list[Hit]:
    """The top ``k`` of one store's two rankings, merged as ``fusion`` says."""
    if fusion.ranker == "rrf":
        return reciprocal_rank_fusion([by_vector, by_keyword], limit=k, weights=fusion.weights)
    return weighted_fusion(by_vector, by_keyword, fusion.alpha, limit=k)


def candidates_for(k: int) -> int:
    """How deep hybrid search reads each ranking: fusing deeper lists than ``k`` lets a chunk that
    is merely good in both beat one that is top in one and missing from the other."""
    return max(4 * k, 40)


def hybrid_search(
    index: ChunkIndex,
    vector: Vectors,
    text: str,
    k: int,
    filter: Filter | None,
    *,
    fusion: Fusion = Fusion(),
    candidates: int | None = None,
) -> list[Hit]:
    """Vector and keyword search over one store, each ``candidates`` deep, fused to the top ``k``."""
    depth = candidates if candidates is not None else candidates_for(k)
    by_vector = index.vector_search(vector, depth, filter)
    by_keyword = index.keyword_search(text, depth, filter)
    return fuse(by_vector, by_keyword, k, fusion)


def search_store(
    index: ChunkIndex,
    vector: Vectors | None,
    text: str,
    k: int,
    filter: Filter | None,
    *,
    mode: SearchMode,
    fusion: Fusion = Fusion(),
) -> list[Hit]:
    """One store's top ``k`` in ``mode``; ``vector`` may be None only in keyword mode."""
    if mode == "keyword":
        return index.keyword_search(text, k, filter)
    if vector is None:
        raise ValueError(f"{mode} search needs a query vector")
    if mode == "vector":
        return index.vector_search(vector, k, filter)
    return hybrid_search(index, vector, text, k, filter, fusion=fusion)


def best_of(hits: Sequence[Hit], k: int, score_threshold: float = 0.0) -> list[Hit]:
    """Several stores' hits as one list: those at or over the threshold, best first, the top ``k``."""
    kept = [hit for hit in hits if hit.score >= score_threshold]
    return sorted(kept, key=lambda hit: -hit.score)[: max(k, 0)]

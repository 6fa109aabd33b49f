"""One query over several vector stores, whose vectors may come from different embedding models.

Vectors of two models cannot be compared, so the query is embedded once per model among the
stores (not once per store), each model's stores are searched with its own vector, and the hits
are merged by score, which ``fusion`` keeps within [0, 1] for every mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from parley.providers.embedders import Embedder
from parley.retrieval.filters import Filter
from parley.retrieval.fusion import Fusion, search_stores
from parley.retrieval.index import Attributes, ChunkIndex, Hit, SearchMode
from parley.storage.library import FileRecord


@dataclass(frozen=True)
class SearchResult:
    file_id: str
    filename: str
    score: float
    attributes: Attributes
    text: str


@dataclass(frozen=True)
class SearchOptions:
    filters: Filter | None = None
    max_num_results: int = 10
    score_threshold: float = 0.0
    mode: SearchMode = "hybrid"
    fusion: Fusion = field(default_factory=Fusion)


async def search_by_model(
    groups: Mapping[str, list[ChunkIndex]],
    embedder_for: Callable[[str], Embedder],
    text: str,
    options: SearchOptions,
) -> list[Hit]:
    """``groups`` maps an embedding model to the indexes of the stores it embedded."""
    hits: list[Hit] = []
    for model, indexes in groups.items():
        vector = None if options.mode == "keyword" else (await embedder_for(model).embed([text]))[0]
        hits += await asyncio.to_thread(
            search_stores, indexes, vector, text, options.max_num_results, options.filters,
            mode=options.mode, score_threshold=options.score_threshold, fusion=options.fusion,
        )  # fmt: skip
    return sorted(hits, key=lambda hit: -hit.score)[: options.max_num_results]


def results(hits: list[Hit], files: Mapping[str, FileRecord]) -> list[SearchResult]:
    """Hits as results named after their files; a hit whose file is gone is dropped."""
    return [
        SearchResult(hit.chunk.file_id, files[fid].filename, hit.score, hit.chunk.attributes, hit.chunk.text)
        for hit in hits
        if (fid := hit.chunk.file_id) in files
    ]

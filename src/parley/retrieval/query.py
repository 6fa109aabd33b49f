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
from parley.retrieval.fusion import Fusion, best_of
from parley.retrieval.index import Attributes, Hit, SearchMode
from parley.retrieval.store_index import StoreIndex, StoreQuery
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
    groups: Mapping[str, list[StoreIndex]],
    embedder_for: Callable[[str], Embedder],
    text: str,
    options: SearchOptions,
) -> list[Hit]:
    """``groups`` maps an embedding model to the indexes of the stores it embedded."""
    hits: list[Hit] = []
    for model, indexes in groups.items():
        vector = None if options.mode == "keyword" else (await embedder_for(model).embed([text]))[0]
        query = StoreQuery(
            vector, text, options.max_num_results, options.filters, options.mode, options.fusion
        )
        for found in await asyncio.gather(*(index.search(query) for index in indexes)):
            hits += found
    return best_of(hits, options.max_num_results, options.score_threshold)


def results(hits: list[Hit], files: Mapping[str, FileRecord]) -> list[SearchResult]:
    """Hits as results named after their files; a hit whose file is gone is dropped."""
    return [
        SearchResult(hit.chunk.file_id, files[fid].filename, hit.score, hit.chunk.attributes, hit.chunk.text)
        for hit in hits
        if (fid := hit.chunk.file_id) in files
    ]

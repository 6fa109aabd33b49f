"""Hosted ``file_search``: the model searches the caller's vector stores through one function.

The model is offered ``knowledge_search`` (one ``query`` string). Parley runs
the search over the declared stores and hands the model the chunks in the
numbered layout of the peer's recordings (``document_id``, ``score``,
``attributes``, one ``<|file-id|>`` marker per chunk, then the instruction to
cite with those markers); an empty result still lets the model answer. The
answer's markers become ``file_citation`` annotations (``tools/citations.py``).

The ``file_search_call`` item always keeps its ``results``, so a later turn
(``previous_response_id``) reads back exactly what the model saw; the caller
is sent them only with ``include=["file_search_call.results"]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import BaseModel

from parley.errors import NotFound, ServiceUnavailable, ToolFailed
from parley.ids import new_id
from parley.retrieval.chunking import count_tokens
from parley.retrieval.filters import Filter, parse_filter
from parley.retrieval.fusion import Fusion
from parley.retrieval.library import VectorStoreLibrary
from parley.retrieval.query import SearchOptions, SearchResult
from parley.tools.base import (
    ChatNames,
    ChatPiece,
    HostedCall,
    HostedToolType,
    Item,
    Json,
    ToolHost,
    ToolServices,
    query_argument,
    query_call_piece,
)
from parley.tools.citations import MarkerAnnotator, file_resolver
from parley.tools.deadline import within
from parley.wire import events
from parley.wire.events import Event
from parley.wire.tools import FileSearchTool

NAME = "knowledge_search"
CHAT_TOOL: Json = {
    "type": "function",
    "function": {
        "name": NAME,
        "description": "Search for information in a database.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "The query to search for. Can be a natural language sentence or keywords.",
                }
            },
            "required": ["query"],
        },
    },
}
_CITE = (
    " Cite sources immediately at the end of sentences before punctuation, using `<|file-id|>` format"
    " (e.g., 'This is a fact <|file-Cn3MSNn72ENTiiq11Qda4A|>.'). Do not add extra punctuation."
    " Use only the file IDs provided (do not invent new ones)."
)


class FileSearch:
    def __init__(
        self, definition: FileSearchTool, library: VectorStoreLibrary, filters: Filter | None, owner: str
    ) -> None:
        self._definition = definition
        self._library = library
        self._owner = owner
        ranking = definition.ranking_options
        weights = ranking.hybrid_search if ranking else None
        self._options = SearchOptions(
            filters=filters,
            max_num_results=definition.max_num_results or 10,
            score_threshold=(ranking.score_threshold if ranking else None) or 0.0,
            fusion=Fusion(weights=(weights.embedding_weight, weights.text_weight)) if weights else Fusion(),
        )

    def chat_tool(self) -> Json:
        return CHAT_TOOL

    async def run(self, call: HostedCall, host: ToolHost) -> AsyncIterator[Event]:
        query = query_argument(call.arguments)
        item: Item = {"id": new_id("fs"), "type": "file_search_call", "status": "in_progress"}
        item |= {"queries": [query], "results": None}
        yield events.output_item_added(dict(item))
        yield _progress("in_progress", item)
        yield _progress("searching", item)
        search = self._library.search(self._definition.vector_store_ids, self._owner, query, self._options)
        try:
            results = await within(host.deadline, search, ToolFailed, NAME)
        except ToolFailed as exc:  # past tool_timeout: the model is told, the response goes on
            yield events.output_item_done({**item, "status": "failed", "error": exc.message})
            return
        done = {**item, "status": "completed", "results": [_result(r) for r in results]}
        yield _progress("completed", item)
        yield events.output_item_done(done)

    def annotator(self, context: Sequence[Item]) -> MarkerAnnotator:
        """Citations of every file a search in this context returned."""
        files = {
            result["file_id"]: result.get("filename") or ""
            for item in context
            if item["type"] == "file_search_call"
            for result in item.get("results") or ()
        }
        return MarkerAnnotator(file_resolver(files))


def _progress(stage: str, item: Item) -> Event:
    return {"type": f"response.file_search_call.{stage}", "item_id": item["id"]}


def _result(result: SearchResult) -> Json:
    return {
        "file_id": result.file_id,
        "filename": result.filename,
        "score": result.score,
        "text": result.text,
        "attributes": dict(result.attributes),
    }


def _number(value: Any) -> Any:
    """Numbers as floats, as the layout the model is used to shows them (``'date': 1672531200.0``)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _layout_attributes(result: Json) -> dict[str, Any]:
    attributes = {key: _number(value) for key, value in (result.get("attributes") or {}).items()}
    attributes |= {"filename": result.get("filename") or "", "document_id": result["file_id"]}
    metadata_tokens = count_tokens(" ".join(f"{key}: {value}" for key, value in attributes.items()))
    text_tokens = count_tokens(result.get("text") or "")
    return attributes | {"token_count": float(text_tokens), "metadata_token_count": float(metadata_tokens)}


def tool_result_parts(query: str, results: Sequence[Json]) -> list[Json]:
    """The tool message the model reads: the seeds' numbered layout, exactly."""
    texts = [f"{NAME} tool found {len(results)} chunks:\nBEGIN of {NAME} tool results.\n"]
    for number, result in enumerate(results, start=1):
        texts.append(
            f"[{number}] document_id: {result['file_id']}, score: {result['score']!r}, "
            f"attributes: {_layout_attributes(result)!r} (cite as <|{result['file_id']}|>)\n"
            f"{result.get('text') or ''}\n"
        )
    texts.append(f"END of {NAME} tool results.\n")
    instruction = (
        f'The above results were retrieved to help answer the user\'s query: "{query}". '
        "Use them as supporting information only in answering this query."
    )
    texts.append(instruction + (_CITE if results else "") + "\n")
    return [{"type": "text", "text": text} for text in texts]


def read_call(item: Item, names: ChatNames) -> ChatPiece:
    queries = [str(q) for q in item.get("queries") or ()]
    query = queries[0] if len(queries) == 1 else "; ".join(queries)
    if item.get("status") == "failed":
        return query_call_piece(item, NAME, query, f"{NAME} failed: {item.get('error') or 'no results'}")
    return query_call_piece(item, NAME, query, tool_result_parts(query, item.get("results") or []))


async def build(definition: BaseModel, services: ToolServices, owner: str, param: str) -> FileSearch:
    assert isinstance(definition, FileSearchTool)
    if services.vector_stores is None:
        raise ServiceUnavailable("This server has no vector stores.", code="file_search_unavailable")
    for index, store_id in enumerate(definition.vector_store_ids):
        try:
            await services.vector_stores.store(store_id, owner)
        except NotFound as exc:
            raise NotFound(exc.message, param=f"{param}.vector_store_ids[{index}]") from None
    raw_filters = definition.filters
    filters = parse_filter(raw_filters, f"{param}.filters") if raw_filters is not None else None
    return FileSearch(definition, services.vector_stores, filters, owner)


FILE_SEARCH = HostedToolType(
    build=build,
    readers={"file_search_call": read_call},
    included={"file_search_call.results": ("file_search_call", "results")},
    private={"file_search_call": ("error",)},
)

"""Routes of ``/v1/vector_stores``: create, list, retrieve, modify, delete, and search.

Search takes OpenAI's body plus one Parley extension: ``search_mode`` (``hybrid`` by default,
``vector`` or ``keyword``), and ``ranking_options.ranker`` also accepts ``rrf`` or ``weighted``
(with ``ranking_options.alpha``, the vector share). ``rewrite_query`` is accepted and does
nothing: ``search_query`` always reports the query as sent.
"""

from __future__ import annotations

from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from parley.api import vector_store_params as params
from parley.api.common import json_body, json_response, library, list_object, list_query, principal
from parley.retrieval.filters import parse_filter
from parley.retrieval.fusion import Fusion, Ranker
from parley.retrieval.index import SearchMode
from parley.retrieval.library import store_not_found
from parley.retrieval.query import SearchOptions

RANKERS: dict[str, Ranker] = {
    "none": "rrf",
    "auto": "rrf",
    "default-2024-11-15": "rrf",
    "rrf": "rrf",
    "weighted": "weighted",
}
MODES = ("hybrid", "vector", "keyword")


async def create_store(request: Request) -> Response:
    body = params.body_object(await json_body(request))
    owner, service = principal(request), library(request)
    specs = params.store_specs(body)
    store = await service.create_store(
        owner,
        name=params.string(body, "name", "") or "",
        metadata=params.metadata(body.get("metadata")),
        expires_after_days=params.expires_after_days(body.get("expires_after")),
        files=specs,
    )
    return json_response(store.wire(service.now()))


async def list_stores(request: Request) -> Response:
    limit, order = list_query(request, default_order="desc")
    service = library(request)
    records, has_more = await service.stores.list(
        principal(request),
        after=request.query_params.get("after"),
        before=request.query_params.get("before"),
        limit=limit,
        order=order,
    )
    return json_response(list_object([r.wire(service.now()) for r in records], has_more))


async def retrieve_store(request: Request) -> Response:
    service = library(request)
    store = await service.store(request.path_params["vector_store_id"], principal(request))
    return json_response(store.wire(service.now()))


async def modify_store(request: Request) -> Response:
    body = params.body_object(await json_body(request))
    store_id, owner, service = request.path_params["vector_store_id"], principal(request), library(request)
    changes: dict[str, Any] = {}
    if body.get("name") is not None:
        changes["name"] = params.string(body, "name")
    if "metadata" in body:
        changes["metadata"] = params.metadata(body["metadata"])
    if "expires_after" in body:
        changes["expires_after_days"] = params.expires_after_days(body["expires_after"])
    updated = await service.stores.update(store_id, owner, changes)
    if updated is None:
        raise store_not_found(store_id)
    return json_response(updated.wire(service.now()))


async def delete_store(request: Request) -> Response:
    store_id = request.path_params["vector_store_id"]
    if not await library(request).delete_store(store_id, principal(request)):
        raise store_not_found(store_id)
    return json_response({"id": store_id, "object": "vector_store.deleted", "deleted": True})


def _query(body: dict[str, Any]) -> str | list[str]:
    query = body.get("query")
    if query is None:
        raise params.invalid("query", "Missing required parameter: 'query'.", "missing_required_parameter")
    if isinstance(query, str) and query.strip():
        return query
    if isinstance(query, list) and query and all(isinstance(q, str) and q.strip() for q in query):
        return cast(list[str], query)
    raise params.invalid("query", "Invalid 'query': expected a non-empty string or array of strings.")


def _number(raw: Any, param: str, low: float, high: float, default: float) -> float:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
        raise params.invalid(
            param, f"Invalid '{param}': expected a number from {low:g} to {high:g}, got {raw!r}."
        )
    return float(raw)


def _search_options(body: dict[str, Any]) -> SearchOptions:
    ranking = body.get("ranking_options")
    ranking = {} if ranking is None else ranking
    if not isinstance(ranking, dict):
        raise params.invalid(
            "ranking_options", "Invalid type for 'ranking_options': expected an object.", "invalid_type"
        )
    ranker = ranking.get("ranker", "auto")
    if not isinstance(ranker, str) or ranker not in RANKERS:
        raise params.invalid(
            "ranking_options.ranker",
            f"Invalid 'ranking_options.ranker': expected one of {', '.join(RANKERS)}, got {ranker!r}.",
        )
    mode = body.get("search_mode", "hybrid")
    if mode not in MODES:
        raise params.invalid("search_mode", f"Invalid 'search_mode': expected one of {', '.join(MODES)}.")
    count = body.get("max_num_results", 10)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 50:
        raise params.invalid(
            "max_num_results", f"Invalid 'max_num_results': expected 1 to 50, got {count!r}."
        )
    if not isinstance(body.get("rewrite_query", False), bool):
        raise params.invalid("rewrite_query", "Invalid type for 'rewrite_query': expected a boolean.")
    raw_filter = body.get("filters")
    return SearchOptions(
        filters=None if raw_filter is None else parse_filter(raw_filter, "filters"),
        max_num_results=count,
        score_threshold=_number(ranking.get("score_threshold"), "ranking_options.score_threshold", 0, 1, 0.0),
        mode=cast(SearchMode, mode),
        fusion=Fusion(RANKERS[ranker], _number(ranking.get("alpha"), "ranking_options.alpha", 0, 1, 0.5)),
    )


async def search_store(request: Request) -> Response:
    body = params.body_object(await json_body(request))
    query, options = _query(body), _search_options(body)
    store_id = request.path_params["vector_store_id"]
    results = await library(request).search([store_id], principal(request), query, options)
    data = [
        {
            "file_id": r.file_id,
            "filename": r.filename,
            "score": r.score,
            "attributes": r.attributes,
            "content": [{"type": "text", "text": r.text}],
        }
        for r in results
    ]
    return json_response(
        {
            "object": "vector_store.search_results.page",
            "search_query": [query] if isinstance(query, str) else query,
            "data": data,
            "has_more": False,
            "next_page": None,
        }
    )


routes = [
    Route("/v1/vector_stores", create_store, methods=["POST"]),
    Route("/v1/vector_stores", list_stores, methods=["GET"]),
    Route("/v1/vector_stores/{vector_store_id}", retrieve_store, methods=["GET"]),
    Route("/v1/vector_stores/{vector_store_id}", modify_store, methods=["POST"]),
    Route("/v1/vector_stores/{vector_store_id}", delete_store, methods=["DELETE"]),
    Route("/v1/vector_stores/{vector_store_id}/search", search_store, methods=["POST"]),
]

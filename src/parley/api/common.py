"""Helpers every route module shares: JSON in and out, the caller's identity, list queries."""

from __future__ import annotations

from typing import Any, Literal, cast

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from parley.api.auth import scope_principal
from parley.engine import EngineDeps
from parley.engine.background import BackgroundResponses
from parley.errors import InvalidRequest
from parley.retrieval.library import VectorStoreLibrary
from parley.wire.nesting import check_depth


def deps(connection: HTTPConnection) -> EngineDeps:
    """What the engine needs, as ``create_app`` built it (for a request or a WebSocket alike)."""
    return cast(EngineDeps, connection.app.state.deps)


def background(request: Request) -> BackgroundResponses:
    """The background-response runner (queue, worker, cancels, resumable streams)."""
    return cast(BackgroundResponses, request.app.state.background)


def library(request: Request) -> VectorStoreLibrary:
    """The vector-store service (files, stores, search) that ``create_app`` built."""
    return cast(VectorStoreLibrary, request.app.state.library)


def principal(connection: HTTPConnection) -> str:
    """The owner of what this request (or WebSocket) creates or reads: the API key's (``api/auth.py``),
    ``anonymous`` on a server without keys. Every store lookup is scoped by it."""
    return scope_principal(connection.scope).owner


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise InvalidRequest("The request body is empty; expected a JSON object.", code="invalid_json")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.", code="invalid_json") from None
    check_depth(raw, value)
    return value


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def list_query(
    request: Request, *, default_order: Literal["asc", "desc"], default_limit: int = 20, max_limit: int = 100
) -> tuple[int, Literal["asc", "desc"]]:
    """``limit`` (1..max_limit, default 20 unless told) and ``order`` from the query string, checked."""
    raw_limit = request.query_params.get("limit", str(default_limit))
    try:
        limit = int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= max_limit:
        raise InvalidRequest(
            f"Invalid 'limit': expected an integer from 1 to {max_limit}, got {raw_limit!r}.",
            param="limit",
            code="invalid_value",
        )
    order = request.query_params.get("order", default_order)
    if order not in ("asc", "desc"):
        raise InvalidRequest(
            f"Invalid 'order': expected 'asc' or 'desc', got {order!r}.", param="order", code="invalid_value"
        )
    return limit, cast(Literal["asc", "desc"], order)


def list_object(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }

"""Routes of ``/v1/responses``: parse, hand the engine one typed request, stream or drain."""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from parley.api.access_log import note_response_id
from parley.api.common import (
    background,
    deps,
    json_body,
    json_response,
    list_object,
    list_query,
    principal,
)
from parley.api.sse import EventStream, encode_json_stream, encode_stream
from parley.engine import compact_context, hidden_fields, public_response, start_turn
from parley.errors import InvalidRequest, NotFound
from parley.storage.base import ResponseFilter
from parley.wire.compact import parse_compact_request
from parley.wire.request import parse_create_request


async def create_response(request: Request) -> Response:
    raw = await json_body(request)
    body = parse_create_request(raw)
    if body.background:
        queued, live = await background(request).enqueue(body, raw, principal(request))
        note_response_id(request, queued["id"])
        if live is None:
            return json_response(queued)
        return EventStream(encode_json_stream(live.follow(-1)), _stall_timeout(request))
    run = await start_turn(body, deps(request), principal(request))
    note_response_id(request, run.turn.response["id"])
    if body.stream:
        return EventStream(encode_stream(run.events), _stall_timeout(request), run.turn.stopped_reading)
    return json_response(await run.response())


async def compact_response(request: Request) -> Response:
    """``POST /v1/responses/compact``: a ``response.compaction`` object, not stored."""
    body = parse_compact_request(await json_body(request))
    return json_response(await compact_context(body, deps(request), principal(request)))


def _stall_timeout(request: Request) -> float | None:
    """Seconds a streaming client may take no event before it is dropped (``stall_timeout``)."""
    timeout: float | None = request.app.state.settings.stall_timeout
    return timeout


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


async def get_response(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    engine, owner = deps(request), principal(request)
    if _flag(request, "stream"):
        after = _starting_after(request)
        events = await background(request).follow(response_id, owner, after)
        return EventStream(encode_json_stream(events), _stall_timeout(request))
    found = engine.live.get(response_id, owner) or await engine.responses.get(response_id, owner)
    if found is None:
        raise _not_found(response_id)
    include = request.query_params.getlist("include[]") + request.query_params.getlist("include")
    return json_response(public_response(found, hidden_fields(include)))


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise InvalidRequest(f"Invalid '{name}': expected true or false, got {value!r}.", param=name)
    return value in ("true", "1")


def _starting_after(request: Request) -> int:
    """``starting_after``: the sequence number after which to replay (default: from the start)."""
    raw = request.query_params.get("starting_after")
    if raw is None:
        return -1
    if not re.fullmatch(r"-?[0-9]+", raw) or not -1 <= int(raw) < 2**63:  # within a SQLite integer
        raise InvalidRequest(
            f"Invalid 'starting_after': expected a sequence number, got {raw!r}.", param="starting_after"
        )
    return int(raw)


async def cancel_response(request: Request) -> Response:
    """``POST /v1/responses/{id}/cancel``: a queued or running background response stops, ``cancelled``."""
    response_id = request.path_params["response_id"]
    return json_response(await background(request).cancel(response_id, principal(request)))


async def delete_response(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    if not await deps(request).responses.delete(response_id, principal(request)):
        raise _not_found(response_id)
    return json_response({"id": response_id, "object": "response.deleted", "deleted": True})


async def list_input_items(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    limit, order = list_query(request, default_order="desc")
    page = await deps(request).responses.input_items(
        response_id,
        principal(request),
        after=request.query_params.get("after"),
        before=request.query_params.get("before"),
        limit=limit,
        order=order,
    )
    if page is None:
        raise _not_found(response_id)
    return json_response(list_object(page.data, page.has_more))


STATUSES = ("completed", "failed", "in_progress", "cancelled", "queued", "incomplete")


def _response_filter(request: Request) -> ResponseFilter:
    """Parley's own narrowing of the list (the UI's log filters): ``model``, ``status``, and
    ``created_after``/``created_before`` in unix seconds, inclusive."""
    query = request.query_params
    status = query.get("status")
    if status is not None and status not in STATUSES:
        valid = ", ".join(f"'{name}'" for name in STATUSES)
        raise InvalidRequest(
            f"Invalid value for 'status': {status!r}. Supported values are: {valid}.",
            param="status",
            code="invalid_value",
        )
    return ResponseFilter(
        query.get("model") or None,
        status,
        _seconds(query, "created_after"),
        _seconds(query, "created_before"),
    )


def _seconds(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        seconds: int | None = int(raw)
    except ValueError:
        seconds = None
    if seconds is None or not -(2**63) <= seconds < 2**63:  # what a database integer holds
        raise InvalidRequest(
            f"Invalid '{name}': expected unix seconds (an integer), got {raw!r}.",
            param=name,
            code="invalid_value",
        )
    return seconds


async def list_responses(request: Request) -> Response:
    limit, order = list_query(request, default_order="desc")
    page = await deps(request).responses.list(
        principal(request),
        after=request.query_params.get("after"),
        limit=limit,
        order=order,
        only=_response_filter(request),
    )
    hidden = hidden_fields(())
    return json_response(list_object([public_response(r, hidden) for r in page.data], page.has_more))


routes = [
    Route("/v1/responses/compact", compact_response, methods=["POST"]),
    Route("/v1/responses", create_response, methods=["POST"]),
    Route("/v1/responses", list_responses, methods=["GET"]),
    Route("/v1/responses/{response_id}", get_response, methods=["GET"]),
    Route("/v1/responses/{response_id}", delete_response, methods=["DELETE"]),
    Route("/v1/responses/{response_id}/cancel", cancel_response, methods=["POST"]),
    Route("/v1/responses/{response_id}/input_items", list_input_items, methods=["GET"]),
]

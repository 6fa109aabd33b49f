"""Routes of ``/v1/responses``: parse, hand the engine one typed request, stream or drain."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from parley.api.common import deps, json_body, json_response, list_object, list_query, principal
from parley.api.sse import encode_stream
from parley.engine import compact_context, hidden_fields, public_response, start_turn
from parley.errors import NotFound
from parley.wire.compact import parse_compact_request
from parley.wire.request import parse_create_request

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def create_response(request: Request) -> Response:
    body = parse_create_request(await json_body(request))
    run = await start_turn(body, deps(request), principal(request))
    if body.stream:
        return StreamingResponse(
            encode_stream(run.events), media_type="text/event-stream", headers=SSE_HEADERS
        )
    return json_response(await run.response())


async def compact_response(request: Request) -> Response:
    """``POST /v1/responses/compact``: a ``response.compaction`` object, not stored."""
    body = parse_compact_request(await json_body(request))
    return json_response(await compact_context(body, deps(request), principal(request)))


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


async def get_response(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    engine, owner = deps(request), principal(request)
    found = engine.live.get(response_id, owner) or await engine.responses.get(response_id, owner)
    if found is None:
        raise _not_found(response_id)
    include = request.query_params.getlist("include[]") + request.query_params.getlist("include")
    return json_response(public_response(found, hidden_fields(include)))


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


async def list_responses(request: Request) -> Response:
    limit, order = list_query(request, default_order="desc")
    page = await deps(request).responses.list(
        principal(request), after=request.query_params.get("after"), limit=limit, order=order
    )
    hidden = hidden_fields(())
    return json_response(list_object([public_response(r, hidden) for r in page.data], page.has_more))


routes = [
    Route("/v1/responses/compact", compact_response, methods=["POST"]),
    Route("/v1/responses", create_response, methods=["POST"]),
    Route("/v1/responses", list_responses, methods=["GET"]),
    Route("/v1/responses/{response_id}", get_response, methods=["GET"]),
    Route("/v1/responses/{response_id}", delete_response, methods=["DELETE"]),
    Route("/v1/responses/{response_id}/input_items", list_input_items, methods=["GET"]),
]

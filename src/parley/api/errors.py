"""Exceptions -> OpenAI-style error bodies, from one table.

``{"error": {"message", "type", "param", "code"}}`` with the status that says
whose fault it was: 4xx for the caller, 502/504 for the provider, 503 for a
server that is not set up for the request. Never a 500 for a client mistake.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from parley.errors import (
    InvalidRequest,
    NotFound,
    ParleyError,
    PayloadTooLarge,
    RecordingMissing,
    ServiceUnavailable,
    TooManyRequests,
    UpstreamError,
    UpstreamStatus,
    UpstreamTimeout,
)

log = logging.getLogger(__name__)

# Most specific class first: the first match wins.
STATUS_TABLE: tuple[tuple[type[ParleyError], int, str], ...] = (
    (PayloadTooLarge, 413, "invalid_request_error"),
    (InvalidRequest, 400, "invalid_request_error"),
    (NotFound, 404, "invalid_request_error"),
    (TooManyRequests, 429, "rate_limit_error"),
    (ServiceUnavailable, 503, "server_error"),
    (UpstreamTimeout, 504, "upstream_error"),
    (UpstreamError, 502, "upstream_error"),
    (RecordingMissing, 500, "server_error"),
    (ParleyError, 500, "server_error"),
)


def error_response(
    status: int,
    message: str,
    type_: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method any route serves on this path (Starlette's own Allow names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(request.url.path):
            methods |= route.methods
    return ", ".join(sorted(methods))


def error_object(exc: ParleyError) -> tuple[int, dict[str, Any]]:
    """The status and the OpenAI error object for ``exc``: the body of an HTTP error, and what a
    WebSocket's ``error`` frame carries, from the same table."""
    status, type_ = next((s, t) for cls, s, t in STATUS_TABLE if isinstance(exc, cls))
    param = exc.param if isinstance(exc, InvalidRequest | NotFound) else None
    upstream_status = exc.status if isinstance(exc, UpstreamStatus) else None
    if upstream_status is not None and upstream_status in (429,):
        status = 429
    return status, {"message": exc.message, "type": type_, "param": param, "code": exc.code}


def parley_error_response(exc: ParleyError) -> Response:
    status, error = error_object(exc)
    return Response(orjson.dumps({"error": error}), status_code=status, media_type="application/json")


async def handle_parley_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ParleyError)
    return parley_error_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    detail: Any = exc.detail
    if exc.status_code in (404, 405):  # OpenAI's wording, which names what was asked for
        detail = f"Invalid URL ({request.method} {request.url.path})"
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() != "allow"}
    if exc.status_code == 405:
        headers["allow"] = _allowed_methods(request)
    return error_response(exc.status_code, str(detail), type_, code=code, headers=headers)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        500, "The server had an error while processing your request.", "server_error", code="server_error"
    )

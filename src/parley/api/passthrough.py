"""``/v1/chat/completions``, ``/v1/embeddings`` and ``/v1/models``, relayed to the providers.

The body goes upstream as the caller wrote it, so a provider's 4xx refusal of it is the caller's
mistake and is relayed with its status (a 502 would tell the SDK to retry the same mistake).
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from parley.api.common import deps, json_body, json_response
from parley.api.errors import error_response
from parley.api.sse import EventStream
from parley.engine import passthrough
from parley.errors import UpstreamStatus


def refused(exc: UpstreamStatus) -> Response:
    """The provider's 4xx as an OpenAI error, its message taken from an OpenAI-shaped body if any."""
    try:
        error = orjson.loads(exc.body)["error"]
        message, param, code = str(error["message"]), error.get("param"), error.get("code")
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message, param, code = exc.body[:2000] or f"HTTP {exc.status}", None, None
    return error_response(
        exc.status,
        message,
        "invalid_request_error",
        param=param if isinstance(param, str) else None,
        code=code if isinstance(code, str) else None,
    )


def _caller_mistake(exc: UpstreamStatus) -> bool:
    return 400 <= exc.status < 500 and exc.status != 429


async def chat_completions(request: Request) -> Response:
    body = await json_body(request)
    router = deps(request).router
    try:
        if isinstance(body, dict) and body.get("stream"):
            stream = await passthrough.open_stream(router, "chat/completions", body)
            return EventStream(stream, request.app.state.settings.stall_timeout)
        return json_response(await passthrough.post(router, "chat/completions", body))
    except UpstreamStatus as exc:
        if _caller_mistake(exc):
            return refused(exc)
        raise


async def embeddings(request: Request) -> Response:
    try:
        return json_response(
            await passthrough.post(deps(request).router, "embeddings", await json_body(request))
        )
    except UpstreamStatus as exc:
        if _caller_mistake(exc):
            return refused(exc)
        raise


async def models(request: Request) -> Response:
    return json_response(await passthrough.list_models(deps(request).router))


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/embeddings", embeddings, methods=["POST"]),
    Route("/v1/models", models, methods=["GET"]),
]

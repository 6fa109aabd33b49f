"""``/v1/chat/completions``, ``/v1/embeddings`` and ``/v1/models``, relayed to the providers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from parley.api.common import deps, json_body, json_response
from parley.engine import passthrough


async def chat_completions(request: Request) -> Response:
    body = await json_body(request)
    router = deps(request).router
    if isinstance(body, dict) and body.get("stream"):
        stream = await passthrough.open_stream(router, "chat/completions", body)
        return StreamingResponse(
            stream, media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )
    return json_response(await passthrough.post(router, "chat/completions", body))


async def embeddings(request: Request) -> Response:
    return json_response(await passthrough.post(deps(request).router, "embeddings", await json_body(request)))


async def models(request: Request) -> Response:
    return json_response(await passthrough.list_models(deps(request).router))


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/embeddings", embeddings, methods=["POST"]),
    Route("/v1/models", models, methods=["GET"]),
]

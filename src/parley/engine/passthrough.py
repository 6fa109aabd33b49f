"""Chat Completions, Embeddings and Models, relayed to the provider that serves the model.

Only the model name is rewritten (a ``provider/`` routing prefix removed); the
rest of the body goes upstream as the caller wrote it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from parley.errors import InvalidRequest
from parley.providers.base import ChatProvider, Json, ModelRouter


def _route(router: ModelRouter, body: Any) -> tuple[ChatProvider, Json]:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    provider, upstream_model = router.resolve(model)
    return provider, {**body, "model": upstream_model}


async def post(router: ModelRouter, path: str, body: Any) -> Json:
    provider, upstream_body = _route(router, body)
    return await provider.post_json(path, upstream_body)


async def open_stream(router: ModelRouter, path: str, body: Any) -> AsyncGenerator[bytes, None]:
    """Start the upstream stream now, so a refusal becomes an HTTP error rather than a broken stream."""
    provider, upstream_body = _route(router, body)
    stream = provider.post_stream(path, upstream_body)
    first = await anext(stream, b"")

    async def relay() -> AsyncGenerator[bytes, None]:
        try:
            if first:
                yield first
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()  # a client that leaves early releases the upstream connection now

    return relay()


async def list_models(router: ModelRouter) -> Json:
    data: list[Any] = []
    for provider in router.providers:
        listed = await provider.get_json("models")
        data.extend(listed.get("data") or [])
    return {"object": "list", "data": data}

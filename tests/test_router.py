"""Model routing: explicit provider prefix, glob patterns, then the catch-all provider."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest

from parley.errors import NotFound, ServiceUnavailable
from parley.providers.profiles import Capabilities
from parley.providers.router import Router


class Named:
    """Just enough of a provider for routing, which only looks at names."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.capabilities = Capabilities()

    def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def post_stream(self, path: str, body: dict[str, Any]) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError

    async def get_json(self, path: str) -> dict[str, Any]:
        raise NotImplementedError

    async def recognise(self) -> None:
        return None

    async def count_tokens(self, model: str, texts: list[str]) -> list[int] | None:
        return None

    async def aclose(self) -> None:
        return None


def test_routes_by_prefix_then_pattern_then_default() -> None:
    openai, local = Named("openai"), Named("local")
    router = Router([(openai, ("gpt-*",)), (local, ())])
    assert router.resolve("gpt-4o") == (openai, "gpt-4o")
    assert router.resolve("openai/o3") == (openai, "o3")
    assert router.resolve("meta-llama/Llama-3-8B") == (local, "meta-llama/Llama-3-8B")
    assert router.resolve("qwen3") == (local, "qwen3")


def test_unrouted_model_is_not_found() -> None:
    router = Router([(Named("openai"), ("gpt-*",))])
    with pytest.raises(NotFound) as info:
        router.resolve("llama3")
    assert info.value.param == "model"
    assert info.value.code == "model_not_found"


def test_no_provider_says_how_to_configure_one() -> None:
    with pytest.raises(ServiceUnavailable, match="--provider-url"):
        Router([]).resolve("anything")

"""Counting tokens with a server's own tokenizer, for servers whose streams report no usage.

Each server that has a tokenize endpoint has its own path and shapes; this is the one place that
knows them. The endpoints live at the server's root, beside its ``/v1`` API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from parley.errors import UpstreamProtocolError
from parley.providers.profiles import Tokenizer

Post = Callable[[str, dict[str, Any]], Awaitable[Any]]


def _request(tokenizer: Tokenizer, model: str, text: str) -> tuple[str, dict[str, Any]]:
    if tokenizer == "llama-cpp-python":
        return "/extras/tokenize/count", {"model": model, "input": text}
    if tokenizer == "llama-server":
        return "/tokenize", {"content": text}
    if tokenizer == "tgi":
        return "/tokenize", {"inputs": text}
    if tokenizer == "sglang":
        return "/v1/tokenize", {"model": model, "prompt": text, "add_special_tokens": False}
    return "/tokenize", {"model": model, "prompt": text, "add_special_tokens": False}  # vLLM


def endpoint_path(tokenizer: Tokenizer) -> str:
    """Where ``tokenizer``'s endpoint is, from the server's root."""
    return _request(tokenizer, "", "")[0]


def _count(answer: Any) -> int | None:
    """The count in any of the answers' shapes: ``{"count": n}``, ``{"tokens": [...]}``, ``[...]``."""
    if isinstance(answer, list):
        return len(answer)
    if isinstance(answer, dict):
        if isinstance(answer.get("count"), int):
            return int(answer["count"])
        if isinstance(answer.get("tokens"), list):
            return len(answer["tokens"])
    return None


async def count_tokens(post: Post, tokenizer: Tokenizer, model: str, texts: list[str]) -> list[int]:
    """Each text's tokens, by the endpoint of ``tokenizer`` reached through ``post`` (all at once:
    the response's last event waits on them)."""

    async def one(text: str) -> int:
        if not text:
            return 0
        path, body = _request(tokenizer, model, text)
        count = _count(await post(path, body))
        if count is None:
            raise UpstreamProtocolError(f"The {tokenizer} tokenize endpoint {path} answered without a count.")
        return count

    return list(await asyncio.gather(*map(one, texts)))

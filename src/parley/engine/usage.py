"""Token usage: each model call's chat-completions usage, summed over the response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parley.wire.response import usage_object


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0

    def add(self, chat_usage: dict[str, Any] | None) -> None:
        if not chat_usage:
            return
        self.input_tokens += int(chat_usage.get("prompt_tokens") or 0)
        self.output_tokens += int(chat_usage.get("completion_tokens") or 0)
        prompt_details = chat_usage.get("prompt_tokens_details") or {}
        self.cached_tokens += int(prompt_details.get("cached_tokens") or 0)
        self.cache_write_tokens += int(prompt_details.get("cache_write_tokens") or 0)
        details = chat_usage.get("completion_tokens_details") or {}
        self.reasoning_tokens += int(details.get("reasoning_tokens") or 0)

    def as_wire(self) -> dict[str, Any]:
        return usage_object(
            self.input_tokens,
            self.output_tokens,
            self.cached_tokens,
            self.reasoning_tokens,
            self.cache_write_tokens,
        )

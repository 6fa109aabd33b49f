"""The top-level parameters each create body may carry, the names a body carries beyond them, and
the mistakes OpenAI answers in words of its own (a role, a ``max_output_tokens`` below 16).

OpenAI answers a name it does not know with 400 ``unknown_parameter`` ("Unknown parameter:
'max_tokens'."), so a typo is never silently ignored. Parley does the same by default; whether an
unknown name is refused, ignored, or passed on to the provider as a vendor extension (vLLM's
``guided_choice``) is decided per provider once the model is resolved (``engine/parameters.py``).

Every parameter OpenAI's own SDK sends is known here, served or not (``image``, ``moderation``,
... are accepted and ignored): a client must never be refused for a field OpenAI takes. A test
holds these lists to the installed SDK's ``response_create_params``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from parley.errors import InvalidRequest

CREATE_PARAMETERS = frozenset(
    {
        "access_programs",
        "background",
        "background_options",
        "context_management",
        "conversation",
        "frequency_penalty",
        "image",
        "include",
        "input",
        "instructions",
        "max_output_tokens",
        "max_tool_calls",
        "metadata",
        "model",
        "moderation",
        "parallel_tool_calls",
        "presence_penalty",
        "previous_response_id",
        "prompt",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning",
        "safety_identifier",
        "service_tier",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "truncation",
        "user",
        "client_metadata",  # sent by the Codex CLI to OpenAI's own endpoint on every turn
    }
)
"""``POST /v1/responses`` (and a WebSocket ``response.create``): OpenAI's create parameters and the
Open Responses spec's (``presence_penalty``, ``frequency_penalty``)."""

COMPACT_PARAMETERS = frozenset(
    {
        "image",
        "input",
        "instructions",
        "model",
        "previous_response_id",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "service_tier",
    }
)
"""``POST /v1/responses/compact``."""

CONVERSATION_PARAMETERS = frozenset({"items", "metadata"})
"""``POST /v1/conversations``."""


MIN_OUTPUT_TOKENS = 16
"""OpenAI's (and the Open Responses spec's) least ``max_output_tokens``."""


def check_max_output_tokens(value: Any) -> None:
    """OpenAI's own words for a limit below its minimum; other wrong values are pydantic's to name."""
    if type(value) is int and value < MIN_OUTPUT_TOKENS:
        raise InvalidRequest(
            "Invalid 'max_output_tokens': integer below minimum value. "
            f"Expected a value >= {MIN_OUTPUT_TOKENS}, but got {value} instead.",
            param="max_output_tokens",
            code="integer_below_min_value",
        )


def check_prompt_reference(value: Any) -> None:
    """``prompt`` names a stored prompt; a string there is text a client meant for ``input``."""
    if isinstance(value, str):
        raise InvalidRequest(
            "Invalid type for 'prompt': expected an object naming a stored prompt "
            '({"id": "pmpt_..."}), but got a string instead; text for the model goes in \'input\'.',
            param="prompt",
            code="invalid_type",
        )


def role_error(value: Any, param: str) -> InvalidRequest:
    """OpenAI's answer to a message role it does not know; ``assistant`` is among the valid ones."""
    shown = f"'{value}'" if isinstance(value, str) else repr(value)
    return InvalidRequest(
        f"Invalid value: {shown}. Supported values are: 'assistant', 'system', 'developer', and 'user'.",
        param=param,
        code="invalid_value",
    )


def unknown_parameters(body: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The body's top-level names OpenAI's endpoint would not know, with their values, in body order."""
    return {name: value for name, value in body.items() if name not in known}


def unknown_parameter(names: Iterable[str]) -> InvalidRequest:
    """OpenAI's answer to the first unknown name (it names one, as OpenAI does)."""
    name = next(iter(names))
    return InvalidRequest(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")

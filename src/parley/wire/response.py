"""The response object, built with every field of the Open Responses spec.

The spec (2026-04-24) makes all of its fields required, some nullable: the
builder therefore writes each key every time, with the spec's value types
(numbers, never null, for sampling parameters; integer timestamps).
"""

from __future__ import annotations

from typing import Any

from parley.wire.request import CreateResponseRequest, JsonSchemaFormat, conversation_id

ResponseObject = dict[str, Any]


def tool_definition(tool: Any) -> dict[str, Any]:
    """A request tool echoed back on the response, in the response's shape."""
    data: dict[str, Any] = tool.model_dump(mode="json", exclude_none=True, by_alias=True)
    if data.get("type") == "function":
        data.setdefault("description", None)
        data.setdefault("parameters", None)
        data.setdefault("strict", None)
    return data


def text_config(request: CreateResponseRequest) -> dict[str, Any]:
    fmt = request.text.format
    if isinstance(fmt, JsonSchemaFormat):
        format_obj: dict[str, Any] = {
            "type": "json_schema",
            "name": fmt.name,
            "schema": fmt.schema_,
            "description": fmt.description,
            "strict": bool(fmt.strict),
        }
    else:
        format_obj = {"type": fmt.type}
    return {"format": format_obj, "verbosity": request.text.verbosity or "medium"}


def tool_choice(request: CreateResponseRequest) -> Any:
    choice = request.tool_choice
    return choice if isinstance(choice, str) else choice.model_dump(mode="json")


def new_response(request: CreateResponseRequest, response_id: str, created_at: int) -> ResponseObject:
    """The response as it looks at ``response.created``; the engine fills in the rest."""
    reasoning = request.reasoning
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": request.background,
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "max_tool_calls": request.max_tool_calls,
        "model": request.model,
        "output": [],
        "parallel_tool_calls": request.parallel_tool_calls,
        "previous_response_id": request.previous_response_id,
        "prompt_cache_key": request.prompt_cache_key,
        "reasoning": {
            "effort": reasoning.effort if reasoning else None,
            "summary": reasoning.summary if reasoning else None,
        },
        "safety_identifier": request.safety_identifier,
        "service_tier": request.service_tier or "default",
        "store": request.store,
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "text": text_config(request),
        "tool_choice": tool_choice(request),
        "tools": [tool_definition(tool) for tool in request.tools],
        "top_logprobs": request.top_logprobs or 0,
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "presence_penalty": request.presence_penalty or 0.0,
        "frequency_penalty": request.frequency_penalty or 0.0,
        "truncation": request.truncation,
        "usage": None,
        "user": request.user,
        "metadata": request.metadata or {},
    } | _echoed(request)


def _echoed(request: CreateResponseRequest) -> dict[str, Any]:
    """The fields present only when the request used them: ``conversation`` and ``prompt``."""
    conversation = conversation_id(request)
    fields = {"conversation": {"id": conversation}} if conversation else {}
    return fields | prompt_echo(request)


def prompt_echo(request: CreateResponseRequest) -> dict[str, Any]:
    """``prompt`` as the request gave it, its version resolved (``engine/prompts.py``)."""
    prompt = request.prompt
    if prompt is None:
        return {}
    variables = {
        name: value if isinstance(value, str) else value.model_dump(mode="json", exclude_none=True)
        for name, value in (prompt.variables or {}).items()
    }
    version = None if prompt.version is None else str(prompt.version)
    return {"prompt": {"id": prompt.id, "variables": variables, "version": version}}


def usage_object(
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int,
    reasoning_tokens: int,
    cache_write_tokens: int = 0,
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens, "cache_write_tokens": cache_write_tokens},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }

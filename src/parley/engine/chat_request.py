"""A Responses request -> the chat-completions body sent upstream.

Every field that has a chat-completions meaning is mapped faithfully; fields
left unset are left out, so the provider's own defaults apply.
"""

from __future__ import annotations

from typing import Any

from parley.engine.toolset import Toolset
from parley.tools.registry import forced_hosted
from parley.wire.request import CreateResponseRequest, JsonSchemaFormat
from parley.wire.tools import AllowedTools, CustomChoice, FunctionChoice, HostedChoice, McpChoice

_SAMPLING = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_PASSED_THROUGH = ("user", "safety_identifier", "prompt_cache_key")


def _tool_choice(
    request: CreateResponseRequest, toolset: Toolset, tools: list[dict[str, Any]], first_step: bool
) -> tuple[Any, list[dict[str, Any]]]:
    """The chat tool_choice, and the tools narrowed to an ``allowed_tools`` list. A tool is forced
    (named, or ``required``) on the turn's first model call only: after a hosted call the model
    answers from what it returned (a caller's call ends the response anyway)."""
    choice = request.tool_choice
    if choice == "required" and not first_step:
        return "auto", tools
    if isinstance(choice, HostedChoice | McpChoice):
        return forced_hosted(choice, tools) if first_step else ("auto", tools)
    if isinstance(choice, FunctionChoice | CustomChoice):
        name = toolset.chat_name_of(choice.name)
        if toolset.sends_custom_natively() and isinstance(choice, CustomChoice):
            return {"type": "custom", "custom": {"name": name}}, tools
        return {"type": "function", "function": {"name": name}}, tools
    if isinstance(choice, AllowedTools):
        allowed = {toolset.chat_name_of(str(t.get("name"))) for t in choice.tools}
        return choice.mode, [t for t in tools if _chat_tool_name(t) in allowed]
    return choice, tools


def _chat_tool_name(tool: dict[str, Any]) -> str:
    return str((tool.get("function") or tool.get("custom") or {}).get("name"))


def _response_format(request: CreateResponseRequest) -> dict[str, Any] | None:
    fmt = request.text.format
    if isinstance(fmt, JsonSchemaFormat):
        schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_}
        if fmt.description is not None:
            schema["description"] = fmt.description
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        return {"type": "json_schema", "json_schema": schema}
    if fmt.type == "json_object":
        return {"type": "json_object"}
    return None


def chat_body(
    request: CreateResponseRequest,
    model: str,
    messages: list[dict[str, Any]],
    toolset: Toolset,
    max_tokens: int | None,
    first_step: bool = True,
    *,
    limit_field: str = "max_tokens",
) -> dict[str, Any]:
    """``max_tokens`` is what is left of ``max_output_tokens`` after earlier model calls, sent as
    ``limit_field`` (the provider's name for it); ``first_step``: this is the turn's first model call."""
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    for name in _SAMPLING:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if max_tokens is not None:
        body[limit_field] = max_tokens
    tools = toolset.chat_tools()
    if tools:
        choice, tools = _tool_choice(request, toolset, tools, first_step)
        body["tools"] = tools
        body["tool_choice"] = choice
        body["parallel_tool_calls"] = request.parallel_tool_calls
    response_format = _response_format(request)
    if response_format is not None:
        body["response_format"] = response_format
    return body | _output_options(request)


def _output_options(request: CreateResponseRequest) -> dict[str, Any]:
    """Reasoning effort, log probabilities, and the fields passed through as they are."""
    options: dict[str, Any] = {}
    if request.reasoning is not None and request.reasoning.effort is not None:
        options["reasoning_effort"] = request.reasoning.effort
    if "message.output_text.logprobs" in request.include:
        options["logprobs"] = True
        if request.top_logprobs:
            options["top_logprobs"] = request.top_logprobs
    for name in _PASSED_THROUGH:
        value = getattr(request, name)
        if value is not None:
            options[name] = value
    return options

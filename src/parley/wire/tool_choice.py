"""A ``tool_choice`` may only force a tool the request declares.

Checked when the request is parsed, or, for a request whose tools come from a stored prompt, once
the prompt's tools apply (``engine/prompts.py``): one rule for both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parley.errors import InvalidRequest
from parley.wire.tools import CustomChoice, FunctionChoice, HostedChoice, McpChoice, NamespaceTool

if TYPE_CHECKING:
    from parley.wire.request import CreateResponseRequest


def check_tool_choice(request: CreateResponseRequest) -> None:
    choice = request.tool_choice
    if isinstance(choice, FunctionChoice | CustomChoice) and choice.name not in declared_tool_names(request):
        raise InvalidRequest(
            f"Tool choice '{choice.name}' not found in 'tools' parameter.",
            param="tool_choice",
            code="invalid_value",
        )
    if isinstance(choice, HostedChoice | McpChoice):
        _check_hosted_choice(request, choice)


def declared_tool_names(request: CreateResponseRequest) -> set[str]:
    """Names a ``tool_choice`` may force: functions and custom tools, inside namespaces too."""
    names: set[str] = set()
    for tool in request.tools:
        members = tool.tools if isinstance(tool, NamespaceTool) else [tool]
        names.update(getattr(member, "name", "") for member in members)
    return names


def _check_hosted_choice(request: CreateResponseRequest, choice: HostedChoice | McpChoice) -> None:
    """The hosted tool a ``tool_choice`` forces is one the request declares."""
    family = "web_search" if choice.type.startswith("web_search") else choice.type
    for tool in request.tools:
        kind = "web_search" if tool.type.startswith("web_search") else tool.type
        if kind == family and (
            not isinstance(choice, McpChoice) or getattr(tool, "server_label", None) == choice.server_label
        ):
            return
    named = f"mcp server '{choice.server_label}'" if isinstance(choice, McpChoice) else f"'{choice.type}'"
    raise InvalidRequest(
        f"Tool choice {named} not found in 'tools' parameter.", param="tool_choice", code="invalid_value"
    )

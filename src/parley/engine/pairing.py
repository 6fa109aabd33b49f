"""Every call the caller runs has its output before the model is asked again.

Strict chat-completions servers refuse an assistant message whose ``tool_calls`` are not each
followed by a tool message, and OpenAI's Responses API refuses such an input before any model
call: 400 "No tool output found for function call <call_id>." (or "custom tool call"), param
``input``. Parley answers the same way rather than passing the provider a history it will refuse
(or, on a lenient server, showing the model a call that silently never returned).

Only calls the caller runs are checked: a hosted tool's call (file_search, web_search, MCP, ...)
is its own item type, answered by the server within the response that made it.
"""

from __future__ import annotations

from parley.errors import InvalidRequest
from parley.wire.items import Item

_CALLS = {"function_call": "function call", "custom_tool_call": "custom tool call"}
"""Call item types the caller answers, and how OpenAI's message names them."""
_OUTPUTS = {"function_call_output": "function_call", "custom_tool_call_output": "custom_tool_call"}


def check_calls_answered(context: list[Item], first_input: int) -> None:
    """``context`` (the stored history, then the new input from ``first_input`` on) leaves no
    caller's call without its output: not in the input itself, and not in a ``previous_response_id``
    chain or conversation whose last response ended with calls the new input does not answer.

    Every earlier turn passed this check, so an unanswered call of the history can only be in what
    the model said last: the scan starts there, and a long history costs no more than a short one."""
    start = first_input
    while start > 0 and _said_by_the_model(context[start - 1]):
        start -= 1
    unanswered: dict[tuple[str, object], None] = {}  # a dict keeps the first unanswered call first
    for item in context[start:]:
        kind = item["type"]
        if kind in _CALLS:
            unanswered[(kind, item.get("call_id"))] = None
        elif kind in _OUTPUTS:
            unanswered.pop((_OUTPUTS[kind], item.get("call_id")), None)
    if unanswered:
        kind, call_id = next(iter(unanswered))
        raise InvalidRequest(f"No tool output found for {_CALLS[kind]} {call_id}.", param="input")


def _said_by_the_model(item: Item) -> bool:
    """Not the caller's input: not a message of theirs, nor a tool output they sent."""
    kind = item["type"]
    if kind == "message":
        return item.get("role") == "assistant"
    return kind not in _OUTPUTS

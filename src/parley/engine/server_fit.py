"""A chat request as the provider's server can take it, and what its answer must then be checked for.

``chat_body`` writes what OpenAI's chat completions would take. Where the provider's profile says its
server does not enforce part of that (``tool_choice: "required"``, a named tool, a JSON Schema), the
body is rewritten into the nearest form it does take, an instruction tells the model what is
expected, and an ``Expectation`` says what to check in the answer: the turn holds that answer's
events back, checks it, asks once more with the problem stated, and otherwise fails the response.
Nothing the server cannot enforce is passed on as if it had been.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from parley.engine.calls import CLIENT_CALLS
from parley.engine.structured_output import answer_problem
from parley.errors import ModelOutputInvalid
from parley.providers.profiles import Capabilities
from parley.wire.items import Item

Json = dict[str, Any]


@dataclass(frozen=True)
class Expectation:
    """What a model call's answer must be, checked by Parley because the server does not enforce it."""

    instruction: str
    """What the model is told; empty where the server is trusted to enforce what is expected."""
    call: bool = False
    """A tool call must come back."""
    json: bool = False
    """The answer's text must be a JSON object (matching ``schema`` when there is one)."""
    schema: Json | None = None

    def problem(self, items: list[Item], hosted_calls: int, *, cut: bool = False) -> str | None:
        """What is wrong with the answer (``items``, plus ``hosted_calls`` calls of hosted tools).
        An answer ``cut`` at the token limit is incomplete rather than wrong, unless it is prose
        where a call was required: a call comes first, so a cut one would still be there."""
        called = hosted_calls > 0 or any(item["type"] in CLIENT_CALLS for item in items)
        if self.call and not called:
            return "did not call a tool"
        if self.json and not called and not cut:
            return answer_problem(message_text(items), self.schema)
        return None

    def retry(self, body: Json, items: list[Item], problem: str) -> Json:
        """``body`` asked again, the failed answer and what was wrong with it added."""
        told = f"Your answer {problem}. {self.instruction}"
        failed = {"role": "assistant", "content": message_text(items)}
        return {**body, "messages": [*body["messages"], failed, {"role": "user", "content": told}]}

    @property
    def enforced(self) -> bool:
        """The server was asked to enforce it (no instruction): the answer streams as it comes, and is
        only checked at its end, so that a server that did not enforce it after all is not believed."""
        return not self.instruction

    def unenforced(self, server: str, problem: str) -> ModelOutputInvalid:
        return ModelOutputInvalid(
            f"The model's answer {problem}, though the request requires it (tool_choice) and the "
            f"provider's server ({server}) was asked to enforce that: it did not (a chat template "
            "without tool support does that). Setting tool_choice_required = false and "
            "tool_choice_named = false for this provider makes Parley instruct the model and check."
        )

    def failure(self, server: str, problem: str) -> ModelOutputInvalid:
        return ModelOutputInvalid(
            f"The model's answer {problem}, twice. The provider's server ({server}) cannot enforce this "
            f"request, so Parley asked for it in an instruction and checked the answer: {self.instruction}"
        )


def message_text(items: list[Item]) -> str:
    """The answer's text: its messages' ``output_text`` parts, joined."""
    return "".join(
        str(part.get("text", ""))
        for item in items
        if item["type"] == "message"
        for part in item.get("content") or ()
        if part.get("type") == "output_text"
    )


def fit_to_server(body: Json, capabilities: Capabilities) -> tuple[Json, Expectation | None]:
    """``body`` in the forms ``capabilities`` say its server takes, and what to check in the answer."""
    body = dict(body)
    if not (capabilities.stream_usage and capabilities.stream_options):
        body.pop("stream_options", None)
    if not capabilities.parallel_tool_calls:
        body.pop("parallel_tool_calls", None)
    if not capabilities.null_content:
        body["messages"] = [_with_content(message) for message in body["messages"]]
    expectations = [e for e in (_fit_tool_choice(body, capabilities), _fit_format(body, capabilities)) if e]
    if not expectations:
        return body, None
    if len(expectations) == 1 and expectations[0].enforced:
        return body, expectations[0]
    expected = Expectation(
        " ".join(e.instruction for e in expectations if e.instruction),
        call=any(e.call for e in expectations),
        json=any(e.json for e in expectations),
        schema=next((e.schema for e in expectations if e.schema is not None), None),
    )
    body["messages"] = _instructed(body["messages"], expected.instruction)
    return body, expected


def _with_content(message: Json) -> Json:
    if message.get("content") is None and message.get("role") == "assistant":
        return {**message, "content": ""}
    return message


def _fit_tool_choice(body: Json, capabilities: Capabilities) -> Expectation | None:
    choice, tools = body.get("tool_choice"), body.get("tools") or []
    if isinstance(choice, dict) and not capabilities.tool_choice_named:
        name = _name(choice)
        body["tools"] = tools = [tool for tool in tools if _name(tool) == name]
        body["tool_choice"] = choice = "required"
    if isinstance(choice, dict) or (choice == "required" and capabilities.tool_choice_required):
        return Expectation("", call=True)  # the server enforces it: checked at the end only
    if choice != "required":
        return None
    if len(tools) == 1 and capabilities.tool_choice_named:
        kind = tools[0]["type"]
        body["tool_choice"] = {"type": kind, kind: {"name": tools[0][kind]["name"]}}
        return Expectation("", call=True)
    body["tool_choice"] = "auto"
    names = ", ".join(str(_name(tool)) for tool in tools)
    return Expectation(f"You must answer by calling a tool ({names}), not with text.", call=True)


def _name(tool_or_choice: Json) -> Any:
    """The name in a chat tool or a named tool choice (``function`` or ``custom``)."""
    return (tool_or_choice.get("function") or tool_or_choice.get("custom") or {}).get("name")


def _fit_format(body: Json, capabilities: Capabilities) -> Expectation | None:
    fmt, takes = body.get("response_format"), capabilities.response_format
    if body.get("tools") and not capabilities.format_with_tools:
        takes = "none"  # TGI: "Grammar and tools are mutually exclusive"
    if fmt is None or takes == "json_schema":
        return None
    if fmt["type"] == "json_object":
        if takes == "json_value":
            body["response_format"] = {"type": "json", "value": {"type": "object"}}
        if takes != "none":
            return None
        del body["response_format"]
        return Expectation("Answer with a JSON object only, and no other text.", json=True)
    schema = fmt["json_schema"].get("schema") or {}
    if takes == "json_object_schema":
        body["response_format"] = {"type": "json_object", "schema": schema}
    elif takes == "json_value":
        body["response_format"] = {"type": "json", "value": schema}
    elif takes == "json_object":
        body["response_format"] = {"type": "json_object"}
    else:
        del body["response_format"]
    text = orjson.dumps(schema).decode()
    return Expectation(
        f"Answer with a JSON object only, and no other text, that matches this JSON Schema: {text}",
        json=True,
        schema=schema,
    )


def _instructed(messages: list[Json], instruction: str) -> list[Json]:
    """``messages`` with ``instruction`` added to the leading system message (or one put first):
    templates that take a system message at all take it first, and a fixed head keeps the
    server's prompt cache."""
    if messages and messages[0].get("role") in ("system", "developer"):
        head = messages[0]
        content = head.get("content")
        if isinstance(content, list):
            content = [*content, {"type": "text", "text": instruction}]
        else:
            content = f"{content}\n\n{instruction}" if content else instruction
        return [{**head, "content": content}, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]

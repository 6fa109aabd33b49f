"""What the fake upstream is told to say: scripted replies, and the default script benchmarks use."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

Json = dict[str, Any]

_PIECE_RE = re.compile(r"\S+\s*|\s+")


@dataclass
class ToolCall:
    """A tool call to stream; a None id becomes ``call_<n>``, unique per server so turns can chain.

    ``kind="function"`` sends ``arguments`` as a function call's JSON arguments; ``kind="custom"`` sends
    them as a custom (freeform) tool call's raw ``input``, the way OpenAI's chat completions API does:
    ``{"type": "custom", "custom": {"name": ..., "input": ...}}``.
    """

    name: str
    arguments: str
    id: str | None = None
    kind: Literal["function", "custom"] = "function"


@dataclass
class Reply:
    """One scripted upstream answer; every knob defaults to what a well-behaved provider would do."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    refusal: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    status: int = 200
    error_body: Json | None = None  # the whole JSON body for a status != 200; None = OpenAI-style default
    break_after_chunks: int | None = None
    token_delay: float | None = None


Script = Sequence[Reply] | Callable[[Json], Reply] | None


def split_pieces(text: str) -> list[str]:
    """Word-sized pieces (trailing whitespace kept) so that ``"".join`` gives the text back exactly."""
    return _PIECE_RE.findall(text)


def split_arguments(arguments: str) -> list[str]:
    """Three slices (fewer when short), like providers that flush arguments mid-token."""
    n = len(arguments)
    return [arguments[i * n // 3 : (i + 1) * n // 3] for i in range(3) if (i + 1) * n // 3 > i * n // 3]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return ""


def count_prompt_tokens(body: Json) -> int:
    """A cheap deterministic stand-in for a tokenizer, so usage numbers are stable across runs."""
    return sum(len(_text_of(m.get("content"))) for m in body.get("messages") or []) // 4 + 1


def auto_reply(body: Json, *, tokens: int = 20) -> Reply:
    """The benchmark's default script: one tool call per user turn when tools exist, else plain text."""
    messages = body.get("messages") or []
    tools = body.get("tools") or []
    if tools and messages and messages[-1].get("role") == "user":
        tool = tools[0]
        name = (tool.get("function") or {}).get("name") or tool.get("name") or "tool"
        query = _text_of(messages[-1].get("content"))
        return Reply(tool_calls=[ToolCall(name, orjson.dumps({"query": query}).decode())])
    return Reply(text=_words(tokens))


@functools.lru_cache(maxsize=64)
def _words(tokens: int) -> str:
    return " ".join(f"token{i}" for i in range(tokens))


def payload_key(call: ToolCall) -> str:
    """Where a call's text goes: a function's ``arguments``, a custom tool's ``input``."""
    return "input" if call.kind == "custom" else "arguments"

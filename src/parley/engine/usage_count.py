"""Usage for a model call whose stream reported none: counted, never a silent zero.

Some servers (llama-cpp-python's) send no usage chunk in a stream, whatever ``stream_options``
asks. The tokens are then counted: by the server's own tokenizer where it has a tokenize endpoint
(the profile's ``tokenizer``), else estimated with OpenAI's ``o200k_base``. Either way the prompt is
counted as the text of its messages and tools, without the chat template's own tokens, so it is a
close lower bound rather than the server's exact figure; the answer's tokens are its text's.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from parley.errors import ParleyError
from parley.providers.base import ChatProvider
from parley.retrieval.tokens import count_tokens as o200k_tokens
from parley.wire.items import Item

log = logging.getLogger(__name__)
_warned: set[str] = set()


def prompt_text(body: dict[str, Any]) -> str:
    """The text a chat request puts before the model: each message's role and content, the calls it
    made, and the tools offered."""
    lines = []
    for message in body.get("messages") or ():
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
        lines.append(f"{message.get('role')}\n{content or ''}{reasoning}")
        for call in message.get("tool_calls") or ():
            function = call.get("function") or call.get("custom") or {}
            lines.append(
                f"{function.get('name')}({function.get('arguments') or function.get('input') or ''})"
            )
    if body.get("tools"):
        lines.append(orjson.dumps(body["tools"]).decode())
    return "\n".join(lines)


def answer_text(items: list[Item]) -> str:
    """The text of a model call's output items: what the model wrote, its calls and their arguments."""
    pieces = []
    for item in items:
        for part in item.get("content") or ():
            pieces.append(str(part.get("text") or part.get("refusal") or ""))
        if item.get("name"):
            pieces.append(f"{item['name']}({item.get('arguments') or item.get('input') or ''})")
    return "\n".join(pieces)


async def counted_usage(
    provider: ChatProvider, model: str, body: dict[str, Any], items: list[Item]
) -> dict[str, int]:
    """The chat-completions usage of a call the provider did not report, counted."""
    texts = [prompt_text(body), answer_text(items)]
    counts: list[int] | None = None
    try:
        counts = await provider.count_tokens(model, texts)
    except ParleyError as exc:
        _warn_once(provider.name, f"its tokenize endpoint failed ({exc.message}); usage is estimated")
    if counts is None:
        _warn_once(provider.name, "it reports no usage in streams; usage is estimated with o200k_base")
        counts = [o200k_tokens(text) for text in texts]
    prompt, completion = counts
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _warn_once(provider: str, message: str) -> None:
    if provider not in _warned:
        _warned.add(provider)
        log.warning("provider %r: %s", provider, message)

"""Reasoning summaries (``reasoning.summary``), written by one short extra model call per item.

Chat providers stream raw reasoning only, never a summary of it. When a request
asks for one and its provider names a ``summary_model``, each completed reasoning
item is held at its ``response.output_item.done`` while that model summarizes the
item's reasoning; the summary streams into the still-open item as OpenAI's does
(``reasoning_summary_part.added``, ``reasoning_summary_text.delta``*,
``reasoning_summary_text.done``, ``reasoning_summary_part.done``), then the item
is done with its ``summary`` filled. Otherwise the stream passes through untouched.

The call's usage is added to the response's. A summary is never worth a failed
response: a call that fails is logged and the summary stays as far as it got
(empty when nothing came; a part cut short is done with ``status: "incomplete"``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

from parley.engine.assemble import Assembler
from parley.engine.limits import until
from parley.engine.prepare import Turn
from parley.engine.server_fit import fit_to_server
from parley.engine.usage import Usage
from parley.engine.usage_count import counted_usage
from parley.errors import ClientError, ParleyError, UpstreamError
from parley.providers.base import ChatProvider
from parley.wire import events
from parley.wire.events import Event
from parley.wire.items import Item
from parley.wire.request import CreateResponseRequest

log = logging.getLogger(__name__)

Mode = Literal["concise", "detailed"]

INSTRUCTIONS = (
    "You write the summary of an AI assistant's private reasoning, shown to the user in its place. "
    "Write as the assistant, in the first person and the present tense ('I'm checking...'). Say "
    "what it considered, what it did, and what it concluded, faithfully: add nothing that the "
    "reasoning does not say, and do not answer the user's question yourself. Write the summary "
    "only, with no preamble and without calling it a summary."
)
LENGTHS: dict[Mode, str] = {
    "concise": "Keep it to one or two sentences.",
    "detailed": (
        "Open with a short title in bold (**...**) on a line of its own, then a paragraph or two "
        "covering the main steps, the decisions made and why."
    ),
}

_FAILURES = (UpstreamError, ClientError, AttributeError, TypeError, KeyError, ValueError)
"""What the summary call may fail with: the provider's errors, and a chunk the assembler cannot read."""


def summary_mode(request: CreateResponseRequest) -> Mode | None:
    """The summary the request asks for. ``auto`` is the detailed one: OpenAI gives the most
    detailed summarizer a model has."""
    summary = request.reasoning.summary if request.reasoning is not None else None
    if summary == "concise":
        return "concise"
    return "detailed" if summary in ("auto", "detailed") else None


def with_summaries(turn: Turn, usage: Usage, stream: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """``stream`` itself, untouched, unless a summary is asked for and the provider can write one."""
    mode = summary_mode(turn.request)
    model = turn.provider.capabilities.summary_model
    if mode is None or not model:
        return stream
    return _summarized(stream, Summarizer(turn.provider, model, mode, usage, turn.deadline))


async def _summarized(stream: AsyncIterator[Event], summarizer: Summarizer) -> AsyncIterator[Event]:
    async for event in stream:
        if event["type"] == "response.output_item.done" and _summarizable(event["item"]):
            async for summary_event in summarizer.summarize(event["item"]):
                yield summary_event
        yield event


def _summarizable(item: Item) -> bool:
    """A reasoning item the model finished (one cut short is not worth an extra call)."""
    return item["type"] == "reasoning" and item.get("status") == "completed" and bool(reasoning_of(item))


def reasoning_of(item: Item) -> str:
    return "".join(part.get("text") or "" for part in item.get("content") or ())


class Summarizer:
    """Writes the summaries of one model call's reasoning items, adding each call's usage."""

    def __init__(
        self, provider: ChatProvider, model: str, mode: Mode, usage: Usage, deadline: float | None = None
    ) -> None:
        self._provider = provider
        self._model = model
        self._mode = mode
        self._usage = usage
        self._deadline = deadline
        """The response's: a summary is a model call like the others, bounded the same way."""

    async def summarize(self, item: Item) -> AsyncIterator[Event]:
        """The summary's events; the item's ``summary`` is filled before its done event goes out."""
        pieces: list[str] = []
        failed = False
        try:
            async for delta in self._deltas(reasoning_of(item)):
                if not pieces:
                    yield events.summary_part_added(item["id"], 0)
                pieces.append(delta)
                yield events.summary_text_delta(item["id"], 0, delta)
        except _FAILURES as exc:
            failed = True
            log.warning(
                "reasoning summary of %s by %s/%s failed, left %s: %s",
                item["id"],
                self._provider.name,
                self._model,
                "unfinished" if pieces else "empty",
                exc.message if isinstance(exc, ParleyError) else repr(exc),
            )
        if not pieces:
            return
        text = "".join(pieces)
        item["summary"] = [{"type": "summary_text", "text": text}]  # a new list: the added event's is shared
        yield events.summary_text_done(item["id"], 0, text)
        yield events.summary_part_done(item["id"], 0, text, incomplete=failed)

    async def _deltas(self, reasoning: str) -> AsyncIterator[str]:
        """The summary's text as it streams. The answer is read as any model call's is (the summary
        model's own reasoning, in its fields or in ``<think>`` tags, is left out)."""
        assembler = Assembler(think_tags=self._provider.capabilities.think_tags)
        body, _ = fit_to_server(self._body(reasoning), self._provider.capabilities)
        async for chunk in until(self._deadline, self._provider.stream_chat(body)):
            for event in assembler.feed(chunk):
                if event["type"] == "response.output_text.delta":
                    yield event["delta"]
        for event in assembler.finish():
            if event["type"] == "response.output_text.delta":
                yield event["delta"]
        provider, model = self._provider, self._model
        self._usage.add(assembler.usage or await counted_usage(provider, model, body, assembler.items))

    def _body(self, reasoning: str) -> dict[str, Any]:
        return {
            "model": self._model,
            "messages": [
                {"role": "system", "content": f"{INSTRUCTIONS} {LENGTHS[self._mode]}"},
                {"role": "user", "content": f"The reasoning to summarize:\n\n{reasoning}"},
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
        }

"""Compaction: a long context replaced by a model-written summary and its latest turn, sealed.

A compaction item stands for everything before it in the context. Its
``encrypted_content`` is ``{"summary": ..., "kept": [items]}`` sealed for the
``compaction`` purpose (``sealing.py``), so a stateless client (Codex) can carry
it while it stays opaque and tamper-evident. Wherever one appears (a request's
input, a stored chain or conversation) it is opened into the item itself,
carrying its summary, followed by the kept items; the message converter
(``messages.py``) then drops everything before it and puts the summary message in
its place. The summary is written by one call to the turn's own provider; the
latest turn (from its last user message on) is kept verbatim beside it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection
from typing import TYPE_CHECKING, Any

from parley.engine.assemble import Assembler
from parley.engine.messages import Message, to_chat_messages
from parley.engine.server_fit import fit_to_server, message_text
from parley.engine.toolset import Toolset
from parley.engine.usage import Usage
from parley.engine.usage_count import counted_usage
from parley.ids import new_id
from parley.providers.base import ChatProvider
from parley.retrieval.tokens import count_tokens
from parley.sealing import ReasoningSealer, Tampered
from parley.wire.events import Event, compaction_compacting, output_item_added, output_item_done
from parley.wire.items import Item
from parley.wire.request import CreateResponseRequest

if TYPE_CHECKING:  # prepare.py opens compaction items with this module
    from parley.engine.prepare import Turn

PURPOSE = "compaction"

SUMMARY_PROMPT = (
    "You are compacting a conversation between a user and an AI assistant so that the assistant "
    "can go on with it from your notes alone; the conversation itself will be discarded. Write "
    "concise notes that keep everything needed to continue: the user's goals, requests and "
    "constraints; the decisions made and why; every tool call made with the results that matter, "
    "and any call still waiting for its result; the facts learnt (names, numbers, paths, ids, "
    "code); and what was about to happen next. Leave out pleasantries and anything superseded. "
    "Write the notes only, not a reply to the user."
)


def compact_threshold(request: CreateResponseRequest) -> int | None:
    """The token count past which the context is compacted (``context_management``), if any."""
    for entry in request.context_management or ():
        if entry.type == "compaction" and entry.compact_threshold is not None:
            return entry.compact_threshold
    return None


def open_compaction(item: Item, sealer: ReasoningSealer) -> list[Item]:
    """The context a compaction item stands for; raises ``Tampered``. One sealed elsewhere (not
    by this deployment) cannot be read: it passes unchanged and the converter skips it."""
    sealed = item.get("encrypted_content") or ""
    if not sealer.is_ours(sealed):
        return [item]
    payload = json.loads(sealer.open(sealed, PURPOSE))
    return [{**item, "summary": payload["summary"]}, *payload["kept"]]


def read_stored(items: list[Item], types: Collection[str], sealer: ReasoningSealer | None) -> list[Item]:
    """Stored items (of ``types``) with their compaction items opened. They were checked when they
    came in; one that no longer opens (the key was changed) is left unread, like foreign reasoning."""
    if sealer is None or "compaction" not in types:
        return items
    opened: list[Item] = []
    for item in items:
        if item["type"] != "compaction":
            opened.append(item)
            continue
        try:
            opened.extend(open_compaction(item, sealer))
        except Tampered:
            opened.append(item)
    return opened


def effective_start(context: list[Item]) -> int:
    """Where the context the model sees begins: its last opened compaction, else its first item."""
    for index in range(len(context) - 1, -1, -1):
        if context[index]["type"] == "compaction" and "summary" in context[index]:
            return index
    return 0


def is_user_message(item: Item) -> bool:
    return item["type"] == "message" and item.get("role") == "user"


def split_latest_turn(context: list[Item]) -> tuple[list[Item], list[Item]]:
    """The context before its latest turn, and that turn (its last user message and all after)."""
    start = effective_start(context)
    users = [index for index in range(start, len(context)) if is_user_message(context[index])]
    boundary = users[-1] if users else len(context)
    return context[:boundary], context[boundary:]


def _has_older(context: list[Item]) -> bool:
    """Whether anything the last compaction does not cover lies before the latest turn (else
    compacting again would not make the context any shorter)."""
    older, _ = split_latest_turn(context)
    start = effective_start(context)
    covered = 1 if older[start : start + 1] and older[start]["type"] == "compaction" else 0
    return len(older) - start > covered


def transcript(messages: list[Message]) -> str:
    """Chat messages as plain text: what is summarized, and what the threshold is counted on. Text
    (not chat messages) so that no provider refuses a tool call left unanswered in it."""
    lines = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(part.get("text") or f"[{part.get('type')}]" for part in content)
        if content:
            lines.append(f"{message['role']}: {content}")
        for call in message.get("tool_calls") or ():
            body = call.get("function") or call.get("custom") or {}
            payload = body.get("arguments", body.get("input", ""))
            lines.append(f"{message['role']} called {body.get('name')} ({call.get('id')}): {payload}")
    return "\n\n".join(lines)


def needs_compaction(turn: Turn, messages: list[Message]) -> bool:
    threshold = compact_threshold(turn.request)
    if threshold is None or turn.sealer is None:
        return False
    return _has_older(turn.context) and count_tokens(transcript(messages)) > threshold


async def summarize(
    provider: ChatProvider, model: str, items: list[Item], toolset: Toolset
) -> tuple[str, dict[str, Any] | None]:
    """The summary of ``items`` written by one streamed model call, and that call's usage."""
    history = transcript(to_chat_messages(None, items, toolset, reasoning_field=None))
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": SUMMARY_PROMPT},
            {"role": "user", "content": f"The conversation to compact:\n\n{history}"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    body, _ = fit_to_server(body, provider.capabilities)
    # The assembler reads the answer as any model call's is read (reasoning fields, <think> blocks).
    assembler = Assembler(think_tags=provider.capabilities.think_tags)
    async for chunk in provider.stream_chat(body):
        assembler.feed(chunk)
    assembler.finish()
    usage = assembler.usage or await counted_usage(provider, model, body, assembler.items)
    return message_text(assembler.items).strip(), usage


async def compact(turn: Turn, item_id: str, usage: Usage) -> tuple[Item, list[Item]]:
    """The turn's context compacted: the sealed item for the client, and the opened items that
    take the context's place. The latest turn is kept; what came before it is summarized (or
    the whole context, when the latest turn is all there is)."""
    assert turn.sealer is not None, "prepare_turn always gives a turn the sealer"
    older, kept = split_latest_turn(turn.context)
    summarized = older if _has_older(turn.context) else turn.context
    summary, chat_usage = await summarize(turn.provider, turn.model, summarized, turn.toolset)
    usage.add(chat_usage)
    sealed = turn.sealer.seal(json.dumps({"summary": summary, "kept": kept}), PURPOSE)
    item: Item = {"id": item_id, "type": "compaction", "encrypted_content": sealed}
    return item, [{**item, "summary": summary}, *kept]


async def compact_in_turn(turn: Turn, usage: Usage) -> AsyncIterator[Event]:
    """Compaction in a response (automatic, or asked for by ``compaction_trigger``), as an output
    item: added (its content still empty), ``response.compaction.compacting`` while the summary is
    written, then done."""
    placeholder: Item = {"id": new_id("cmp"), "type": "compaction", "encrypted_content": ""}
    yield output_item_added(placeholder)
    yield compaction_compacting(placeholder["id"])
    item, opened = await compact(turn, placeholder["id"], usage)
    turn.context.extend(opened)
    yield output_item_done(item)

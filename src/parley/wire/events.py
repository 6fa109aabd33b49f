"""Stream events of the Responses API, as JSON objects.

Constructors here build each event without ``sequence_number`` and
``output_index``: those are stamped in exactly one place, ``engine/emit.py``.
Events stay plain dicts so that each is encoded once, straight to the wire.
"""

from __future__ import annotations

from typing import Any

from parley.wire.items import Item

Event = dict[str, Any]


def lifecycle(kind: str, response: dict[str, Any]) -> Event:
    """``response.created`` / ``in_progress`` / ``completed`` / ``failed`` / ``incomplete``."""
    return {"type": f"response.{kind}", "response": response}


def output_item_added(item: Item) -> Event:
    return {"type": "response.output_item.added", "item": item}


def output_item_done(item: Item) -> Event:
    return {"type": "response.output_item.done", "item": item}


def content_part_added(item_id: str, content_index: int, part: dict[str, Any]) -> Event:
    return {
        "type": "response.content_part.added",
        "item_id": item_id,
        "content_index": content_index,
        "part": part,
    }


def content_part_done(item_id: str, content_index: int, part: dict[str, Any]) -> Event:
    return {
        "type": "response.content_part.done",
        "item_id": item_id,
        "content_index": content_index,
        "part": part,
    }


def text_delta(
    kind: str, item_id: str, content_index: int, delta: str, logprobs: list[dict[str, Any]] | None = None
) -> Event:
    """``response.output_text.delta``, ``response.refusal.delta`` or ``response.reasoning_text.delta``."""
    event: Event = {"type": f"response.{kind}.delta", "item_id": item_id, "content_index": content_index}
    event["delta"] = delta
    if kind == "output_text":
        event["logprobs"] = logprobs or []
    return event


def text_done(
    kind: str, item_id: str, content_index: int, text: str, logprobs: list[dict[str, Any]] | None = None
) -> Event:
    field = "refusal" if kind == "refusal" else "text"
    event: Event = {"type": f"response.{kind}.done", "item_id": item_id, "content_index": content_index}
    event[field] = text
    if kind == "output_text":
        event["logprobs"] = logprobs or []
    return event


def arguments_delta(item_id: str, delta: str) -> Event:
    return {"type": "response.function_call_arguments.delta", "item_id": item_id, "delta": delta}


def arguments_done(item: Item) -> Event:
    return {
        "type": "response.function_call_arguments.done",
        "item_id": item["id"],
        "arguments": item["arguments"],
    }


def custom_input_delta(item_id: str, delta: str) -> Event:
    return {"type": "response.custom_tool_call_input.delta", "item_id": item_id, "delta": delta}


def custom_input_done(item: Item) -> Event:
    return {"type": "response.custom_tool_call_input.done", "item_id": item["id"], "input": item["input"]}


def annotation_added(item_id: str, content_index: int, annotation_index: int, annotation: Any) -> Event:
    return {
        "type": "response.output_text.annotation.added",
        "item_id": item_id,
        "content_index": content_index,
        "annotation_index": annotation_index,
        "annotation": annotation,
    }


def compaction_compacting(item_id: str) -> Event:
    """Sent while the summary of an automatic compaction is being sampled (no summary content)."""
    return {"type": "response.compaction.compacting", "item_id": item_id}


def summary_part_added(item_id: str, summary_index: int) -> Event:
    """A reasoning summary part opening (``engine/reasoning_summary.py`` writes its text)."""
    return {
        "type": "response.reasoning_summary_part.added",
        "item_id": item_id,
        "summary_index": summary_index,
        "part": {"type": "summary_text", "text": ""},
    }


def summary_text_delta(item_id: str, summary_index: int, delta: str) -> Event:
    return {
        "type": "response.reasoning_summary_text.delta",
        "item_id": item_id,
        "summary_index": summary_index,
        "delta": delta,
    }


def summary_text_done(item_id: str, summary_index: int, text: str) -> Event:
    return {
        "type": "response.reasoning_summary_text.done",
        "item_id": item_id,
        "summary_index": summary_index,
        "text": text,
    }


def summary_part_done(item_id: str, summary_index: int, text: str, *, incomplete: bool = False) -> Event:
    """``status: "incomplete"`` only when the part was cut short; OpenAI omits it otherwise."""
    event: Event = {
        "type": "response.reasoning_summary_part.done",
        "item_id": item_id,
        "summary_index": summary_index,
        "part": {"type": "summary_text", "text": text},
    }
    if incomplete:
        event["status"] = "incomplete"
    return event

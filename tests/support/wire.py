"""Wire checks shared by the tests: an event must parse with the openai SDK's own models and carry
no field those models (or, for the response object, the Open Responses spec) do not define."""

from __future__ import annotations

from typing import Any

from openai.types.responses import Response, ResponseOutputItem, ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

EVENTS: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)
ITEMS: TypeAdapter[ResponseOutputItem] = TypeAdapter(ResponseOutputItem)

# The spec's response fields that the SDK's Response model does not list.
SPEC_ONLY_RESPONSE_FIELDS = frozenset({"presence_penalty", "frequency_penalty", "store"})
# Item fields OpenAI sends that the SDK's models lack: Codex echoes `status` on custom_tool_call
# items it received (tests/codex/captures/gpt-5.5-turn2.request.json).
WIRE_ONLY_ITEM_FIELDS = frozenset({"status"})


def _fields(model: BaseModel) -> set[str]:
    return {field.alias or name for name, field in type(model).model_fields.items()}


def _check_exact(
    data: dict[str, Any], model: BaseModel, where: str, allowed: frozenset[str] = frozenset()
) -> None:
    extra = set(data) - _fields(model) - allowed
    assert not extra, f"{where} carries fields the openai SDK does not define: {sorted(extra)}"


def check_event(event: dict[str, Any]) -> None:
    parsed = EVENTS.validate_python(event)
    _check_exact(event, parsed, event["type"])
    if "item" in event:
        item = event["item"]
        _check_exact(item, ITEMS.validate_python(item), f"{event['type']} item", WIRE_ONLY_ITEM_FIELDS)
    if "response" in event:
        response = Response.model_validate(event["response"])
        _check_exact(event["response"], response, f"{event['type']} response", SPEC_ONLY_RESPONSE_FIELDS)
        for item in event["response"]["output"]:
            _check_exact(item, ITEMS.validate_python(item), f"{event['type']} output", WIRE_ONLY_ITEM_FIELDS)


__all__ = ["EVENTS", "ITEMS", "check_event"]

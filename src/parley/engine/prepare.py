"""Everything that can fail before the first event: it fails as an HTTP error, not a stream.

Preparing a turn resolves the provider, loads the ``previous_response_id``
chain, gives every input item its id and checks that the items make sense
together (each ``function_call_output`` answers a call that exists).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from parley.errors import InvalidRequest, NotFound, ParleyError
from parley.ids import Prefix, new_id
from parley.providers.base import ChatProvider, ModelRouter
from parley.storage.base import ResponseStore
from parley.wire.items import AssistantMessage, Item, ItemReference
from parley.wire.request import CreateResponseRequest
from parley.wire.response import new_response

_ID_PREFIXES: dict[str, Prefix] = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
}


@dataclass(frozen=True)
class EngineDeps:
    responses: ResponseStore
    router: ModelRouter


@dataclass
class Turn:
    """One prepared response: what to ask, whom to ask, and the context to send."""

    request: CreateResponseRequest
    response: dict[str, Any]
    input_items: list[Item]
    context: list[Item]
    provider: ChatProvider
    model: str
    owner: str
    failure: ParleyError | None = field(default=None)


async def prepare_turn(request: CreateResponseRequest, deps: EngineDeps, owner: str) -> Turn:
    provider, model = deps.router.resolve(request.model)
    history: list[Item] = []
    if request.previous_response_id is not None:
        found = await deps.responses.history(request.previous_response_id, owner)
        if found is None:
            raise NotFound(
                f"Previous response with id '{request.previous_response_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        history = found
    input_items = _input_items(request, history)
    if not input_items and not history:
        raise InvalidRequest(
            "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
        )
    context = history + input_items
    _check_call_outputs(context, len(history))
    response_id = new_id("resp")
    return Turn(
        request,
        new_response(request, response_id, int(time.time())),
        input_items,
        context,
        provider,
        model,
        owner,
    )


def _input_items(request: CreateResponseRequest, history: list[Item]) -> list[Item]:
    if isinstance(request.input, str):
        return [
            {
                "id": new_id("msg"),
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_text", "text": request.input}],
            }
        ]
    known = {item.get("id"): item for item in history}
    items = []
    for index, model in enumerate(request.input):
        if isinstance(model, ItemReference):
            if model.id not in known:
                raise InvalidRequest(
                    f"Item with id '{model.id}' not found.", param=f"input[{index}].id", code="item_not_found"
                )
            items.append(known[model.id])
            continue
        item = model.model_dump(mode="json", exclude_none=True, by_alias=True)
        if item["type"] == "message" and isinstance(item["content"], str):
            kind = "output_text" if isinstance(model, AssistantMessage) else "input_text"
            part: dict[str, Any] = {"type": kind, "text": item["content"]}
            if kind == "output_text":
                part["annotations"] = []
            item["content"] = [part]
        item.setdefault("status", "completed")
        if not item.get("id"):
            item = {"id": new_id(_ID_PREFIXES[item["type"]]), **item}
        items.append(item)
    return items


def _check_call_outputs(context: list[Item], first_input: int) -> None:
    calls = {item["call_id"] for item in context if item["type"] == "function_call"}
    for index, item in enumerate(context[first_input:]):
        if item["type"] == "function_call_output" and item["call_id"] not in calls:
            raise InvalidRequest(
                f"No tool call found for function call output with call_id '{item['call_id']}'.",
                param=f"input[{index}].call_id",
                code="unknown_call_id",
            )

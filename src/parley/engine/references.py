"""The request's ``input`` as stored items, ``item_reference`` entries resolved.

A reference names an item of the history being continued, or, as OpenAI allows, any item the
caller has stored, with no chain named at all: the Vercel AI SDK sends an earlier answer's
reasoning back as ``{"type": "item_reference", "id": "rs_..."}`` alone. The history is searched
first (it is at hand); only the ids it lacks cost one indexed read of the store.
"""

from __future__ import annotations

from parley.errors import InvalidRequest
from parley.ids import new_id
from parley.storage.base import ResponseStore
from parley.wire.items import Item, ItemReference, stored_item
from parley.wire.request import CreateResponseRequest


async def input_items(
    request: CreateResponseRequest, history: list[Item], responses: ResponseStore, owner: str
) -> list[Item]:
    if isinstance(request.input, str):
        return parsed_items(request, {})
    wanted = {model.id for model in request.input if isinstance(model, ItemReference)}
    known: dict[str, Item] = {}
    if wanted:  # the index is built only for a reference: histories run long
        known = {item["id"]: item for item in history if item.get("id") in wanted}
        if missing := wanted - known.keys():
            known |= await responses.items(missing, owner)
    return parsed_items(request, known)


def parsed_items(request: CreateResponseRequest, known: dict[str, Item]) -> list[Item]:
    """The input as stored items; a reference is taken from ``known`` or is a 400."""
    if isinstance(request.input, str):
        content = [{"type": "input_text", "text": request.input}]
        said = {"type": "message", "status": "completed", "role": "user", "content": content}
        return [{"id": new_id("msg"), **said}]
    items = []
    for index, model in enumerate(request.input):
        if not isinstance(model, ItemReference):
            items.append(stored_item(model))
        elif model.id in known:
            items.append(known[model.id])
        else:
            message = f"Item with id '{model.id}' not found."
            raise InvalidRequest(message, param=f"input[{index}].id", code="item_not_found")
    return items

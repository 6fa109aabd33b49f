"""What the caller is sent of hosted items: fields that only ``include`` asks for are left out.

Hosted items keep everything in storage (a later turn needs what the model saw),
and the view is cut at the edge, per request: ``file_search_call.results`` is
``null`` unless the request's ``include`` (or a retrieval's ``include[]``) names it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from parley.tools.registry import INCLUDABLE, PRIVATE
from parley.wire.events import Event
from parley.wire.items import Item

Hidden = dict[str, tuple[str, ...]]
"""Item type -> fields set to null (``-field``: left out, a private field)."""


def hidden_fields(include: Iterable[str]) -> Hidden:
    wanted = set(include)
    hidden: dict[str, list[str]] = {}
    for name, (item_type, field) in INCLUDABLE.items():
        if name not in wanted:
            hidden.setdefault(item_type, []).append(field)
    for item_type, fields in PRIVATE.items():
        hidden.setdefault(item_type, []).extend(f"-{field}" for field in fields)
    return {item_type: tuple(fields) for item_type, fields in hidden.items()}


def _value(item: Item, field: str) -> Any:
    """The value at ``field``, a dotted path (``action.sources``) into nested objects."""
    head, _, rest = field.removeprefix("-").partition(".")
    value = item.get(head)
    return _value(value, rest) if rest and isinstance(value, dict) else None if rest else value


def _nulled(item: Item, field: str) -> Item:
    if field.startswith("-"):
        return {key: value for key, value in item.items() if key != field[1:]}
    head, _, rest = field.partition(".")
    if not rest:
        return {**item, head: None}
    return {**item, head: _nulled(item[head], rest)}


def public_item(item: Item, hidden: Hidden) -> Item:
    fields = [field for field in hidden.get(item["type"], ()) if _value(item, field) is not None]
    for field in fields:
        item = _nulled(item, field)
    return item


def public_response(response: dict[str, Any], hidden: Hidden) -> dict[str, Any]:
    output = response.get("output") or []
    if not hidden or not any(item["type"] in hidden for item in output):
        return response
    return {**response, "output": [public_item(item, hidden) for item in output]}


def public_event(event: Event, hidden: Hidden) -> Event:
    if "item" in event and event["item"]["type"] in hidden:
        return {**event, "item": public_item(event["item"], hidden)}
    if "response" in event:
        response = public_response(event["response"], hidden)
        return event if response is event["response"] else {**event, "response": response}
    return event


async def public_events(events: AsyncIterator[Event], hidden: Hidden) -> AsyncIterator[Event]:
    async for event in events:
        yield public_event(event, hidden)

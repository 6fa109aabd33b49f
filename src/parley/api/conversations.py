"""Routes of ``/v1/conversations``: create, retrieve, update, delete, and the items inside.

Items are checked with the same ``InputItem`` union as ``POST /v1/responses`` and stored in
exactly the shape a response on the conversation would store them (an id with its type's
prefix, ``status``, string content turned into parts), because that is what later turns read
back as context. Every check happens before anything is written, so a refused request leaves
the conversation as it was. Limits and wordings are OpenAI's: at most 20 items per call, and
metadata of at most 16 keys (64 characters) with string values (512 characters).
"""

from __future__ import annotations

import time
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from parley.api.common import deps, json_body, json_response, list_object, list_query, principal
from parley.engine.include import Hidden, hidden_fields, public_item
from parley.errors import InvalidRequest, NotFound, ServiceUnavailable
from parley.ids import new_id
from parley.storage.base import ConversationStore
from parley.wire.items import InputItem, Item, ItemReference, stored_item
from parley.wire.parameters import CONVERSATION_PARAMETERS, unknown_parameter, unknown_parameters
from parley.wire.request import CreateResponseRequest, invalid_from_validation

MAX_ITEMS = 20
MAX_KEYS, MAX_KEY_LENGTH, MAX_VALUE_LENGTH = 16, 64, 512
INCLUDABLE: tuple[str, ...] = get_args(get_args(CreateResponseRequest.model_fields["include"].annotation)[0])
"""The ``include`` values OpenAI accepts here: the same list as ``POST /v1/responses``."""


class _ItemsBody(BaseModel):
    """Only there to check ``items`` and name a bad one the OpenAI way (``items[3].content``)."""

    model_config = ConfigDict(extra="ignore")

    items: list[InputItem]


def conversation_not_found(conversation_id: str) -> NotFound:
    return NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation_id")


def item_not_found(item_id: str) -> NotFound:
    return NotFound(f"Item with id '{item_id}' not found.", param="item_id")


def _store(request: Request) -> ConversationStore:
    store = deps(request).conversations
    if store is None:
        raise ServiceUnavailable("This server has no conversation store configured.")
    return store


def _kind(value: Any) -> str:
    """How OpenAI names a JSON value's type in "... but got <kind> instead"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {str: "a string", int: "an integer", float: "a decimal", list: "an array", dict: "an object"}
    return names.get(type(value), "a value")


def _invalid(param: str, message: str, code: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


def check_metadata(raw: Any) -> dict[str, str]:
    """OpenAI's metadata rules and wordings; None means none."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _invalid(
            "metadata",
            f"Invalid type for 'metadata': expected a metadata object, but got {_kind(raw)} instead.",
            "invalid_type",
        )
    if len(raw) > MAX_KEYS:
        raise _invalid(
            "metadata",
            f"Invalid 'metadata': too many properties. Expected an object with at most {MAX_KEYS} "
            f"properties, but got an object with {len(raw)} properties instead.",
            "object_above_max_properties",
        )
    for key, value in raw.items():
        param = f"metadata.{key}"
        if len(key) > MAX_KEY_LENGTH:
            raise _invalid(
                param,
                f"Invalid property name in 'metadata': '{key}' is too long. Expected a string with maximum "
                f"length {MAX_KEY_LENGTH}, but got a string with length {len(key)} instead.",
                "property_name_above_max_length",
            )
        if not isinstance(value, str):
            message = f"Invalid type for '{param}': expected a string, but got {_kind(value)} instead."
            raise _invalid(param, message, "invalid_type")
        if len(value) > MAX_VALUE_LENGTH:
            raise _invalid(
                param,
                f"Invalid '{param}': string too long. Expected a string with maximum length "
                f"{MAX_VALUE_LENGTH}, but got a string with length {len(value)} instead.",
                "string_above_max_length",
            )
    return raw


def check_items(raw: Any) -> list[Item]:
    """Validated and normalized items, ready to store; raises on the first bad one."""
    if not isinstance(raw, list):
        raise _invalid(
            "items",
            f"Invalid type for 'items': expected an array of input items, but got {_kind(raw)} instead.",
            "invalid_type",
        )
    if len(raw) > MAX_ITEMS:
        raise _invalid(
            "items",
            f"Invalid 'items': array too long. Expected an array with maximum length {MAX_ITEMS}, "
            f"but got an array with length {len(raw)} instead.",
            "array_above_max_length",
        )
    try:
        models = _ItemsBody.model_validate({"items": raw}, strict=True).items
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None
    for index, model in enumerate(models):
        if isinstance(model, ItemReference):
            raise _invalid(
                f"items[{index}].type",
                f"Invalid value for 'items[{index}].type': item references cannot be added to a "
                "conversation; send the item itself.",
                "invalid_value",
            )
    return [stored_item(model) for model in models]


def _include(request: Request) -> Hidden:
    """Fields left out of hosted items unless ``include`` (or ``include[]``) asks for them."""
    values = request.query_params.getlist("include") + request.query_params.getlist("include[]")
    for index, value in enumerate(values):
        if value not in INCLUDABLE:
            supported = ", ".join(f"'{v}'" for v in INCLUDABLE)
            raise _invalid(
                f"include[{index}]",
                f"Invalid value: '{value}'. Supported values are: {supported}.",
                "invalid_value",
            )
    return hidden_fields(values)


async def _object_body(request: Request, *, empty_ok: bool = False) -> dict[str, Any]:
    if empty_ok and not (await request.body()).strip():
        return {}
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return body


async def create_conversation(request: Request) -> Response:
    body = await _object_body(request, empty_ok=True)
    unknown = unknown_parameters(body, CONVERSATION_PARAMETERS)
    if unknown and request.app.state.settings.unknown_parameters == "error":
        raise unknown_parameter(unknown)
    metadata = check_metadata(body.get("metadata"))
    items = [] if body.get("items") is None else check_items(body["items"])
    conversation = {
        "id": new_id("conv"),
        "object": "conversation",
        "created_at": int(time.time()),
        "metadata": metadata,
    }
    await _store(request).create(conversation, items, principal(request))
    return json_response(conversation)


async def list_conversations(request: Request) -> Response:
    """A Parley extension (OpenAI has no such list): the caller's conversations, newest first
    unless ``order=asc``, paged by ``after`` as ``GET /v1/responses`` is."""
    limit, order = list_query(request, default_order="desc")
    page = await _store(request).list(
        principal(request), after=request.query_params.get("after"), limit=limit, order=order
    )
    return json_response(list_object(page.data, page.has_more))


async def retrieve_conversation(request: Request) -> Response:
    conversation_id = request.path_params["conversation_id"]
    found = await _store(request).get(conversation_id, principal(request))
    if found is None:
        raise conversation_not_found(conversation_id)
    return json_response(found)


async def update_conversation(request: Request) -> Response:
    conversation_id = request.path_params["conversation_id"]
    body = await _object_body(request)
    if "metadata" not in body:
        raise _invalid("metadata", "Missing required parameter: 'metadata'.", "missing_required_parameter")
    updated = await _store(request).update(
        conversation_id, principal(request), check_metadata(body["metadata"])
    )
    if updated is None:
        raise conversation_not_found(conversation_id)
    return json_response(updated)


async def delete_conversation(request: Request) -> Response:
    conversation_id = request.path_params["conversation_id"]
    if not await _store(request).delete(conversation_id, principal(request)):
        raise conversation_not_found(conversation_id)
    return json_response({"id": conversation_id, "object": "conversation.deleted", "deleted": True})


async def create_items(request: Request) -> Response:
    conversation_id = request.path_params["conversation_id"]
    hidden = _include(request)
    body = await _object_body(request)
    if "items" not in body:
        raise _invalid("items", "Missing required parameter: 'items'.", "missing_required_parameter")
    items = check_items(body["items"])
    async with deps(request).conversation_locks.hold(conversation_id):  # not inside a running turn
        added = await _store(request).add_items(conversation_id, principal(request), items)
    if added is None:
        raise conversation_not_found(conversation_id)
    return json_response(list_object([public_item(item, hidden) for item in added], has_more=False))


async def list_items(request: Request) -> Response:
    conversation_id = request.path_params["conversation_id"]
    limit, order = list_query(request, default_order="desc")
    hidden = _include(request)
    page = await _store(request).items(
        conversation_id, principal(request), after=request.query_params.get("after"), limit=limit, order=order
    )
    if page is None:
        raise conversation_not_found(conversation_id)
    return json_response(list_object([public_item(item, hidden) for item in page.data], page.has_more))


async def _missing(request: Request, store: ConversationStore) -> NotFound:
    """Which of the two ids names nothing: the conversation's 404 wins, as on every other route."""
    conversation_id, item_id = request.path_params["conversation_id"], request.path_params["item_id"]
    if await store.get(conversation_id, principal(request)) is None:
        return conversation_not_found(conversation_id)
    return item_not_found(item_id)


async def retrieve_item(request: Request) -> Response:
    conversation_id, item_id = request.path_params["conversation_id"], request.path_params["item_id"]
    hidden, store = _include(request), _store(request)
    item = await store.get_item(conversation_id, item_id, principal(request))
    if item is None:
        raise await _missing(request, store)
    return json_response(public_item(item, hidden))


async def delete_item(request: Request) -> Response:
    """Answers with the conversation, as OpenAI does."""
    conversation_id, item_id = request.path_params["conversation_id"], request.path_params["item_id"]
    store, owner = _store(request), principal(request)
    async with deps(request).conversation_locks.hold(conversation_id):  # not inside a running turn
        deleted = await store.delete_item(conversation_id, item_id, owner)
    if not deleted:
        raise await _missing(request, store)
    conversation = await store.get(conversation_id, owner)
    if conversation is None:  # deleted meanwhile
        raise conversation_not_found(conversation_id)
    return json_response(conversation)


routes = [
    Route("/v1/conversations", create_conversation, methods=["POST"]),
    Route("/v1/conversations", list_conversations, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}", retrieve_conversation, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}", update_conversation, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}", delete_conversation, methods=["DELETE"]),
    Route("/v1/conversations/{conversation_id}/items", create_items, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}/items", list_items, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}/items/{item_id}", retrieve_item, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}/items/{item_id}", delete_item, methods=["DELETE"]),
]

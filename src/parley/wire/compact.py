"""``POST /v1/responses/compact``: its body, checked as a create request, and its answer object.

The compact body is a subset of the create body (``model``, ``input``,
``previous_response_id``, ``instructions``, prompt-cache fields), so it is
validated by the very parser of ``/v1/responses``: the same items are accepted
and a bad one is named by the same ``param``. Unlike a create request, ``model``
is always required (there is no stored prompt to supply one), and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from parley.errors import InvalidRequest
from parley.wire.items import Item
from parley.wire.parameters import COMPACT_PARAMETERS, unknown_parameters
from parley.wire.request import CreateResponseRequest, parse_create_request

COMPACT_FIELDS = ("model", "input", "previous_response_id", "instructions", "prompt_cache_key")
"""What a compact request carries over to the context it compacts; other fields OpenAI's compact
takes are ignored, and a name it does not know is treated as in a create request."""


def parse_compact_request(body: Any) -> CreateResponseRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    if body.get("model") is None:
        raise InvalidRequest(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    carried = {name: body[name] for name in COMPACT_FIELDS if name in body}
    request = parse_create_request(carried | {"store": False})
    request.keep_extra_parameters(unknown_parameters(body, COMPACT_PARAMETERS))
    return request


def compacted_response(
    response_id: str, created_at: int, output: list[Item], usage: dict[str, Any]
) -> dict[str, Any]:
    """OpenAI's ``CompactedResponse`` (object ``response.compaction``): the kept user messages, then
    the one compaction item, and the usage of the summary call."""
    return {
        "id": response_id,
        "object": "response.compaction",
        "created_at": created_at,
        "output": output,
        "usage": usage,
    }

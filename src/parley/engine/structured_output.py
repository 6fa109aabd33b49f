"""``text.format``'s JSON Schema: checked before any model is asked, and answers checked against it
where the server cannot be made to follow it.

A schema that is not a JSON Schema is the caller's 400 (OpenAI's ``invalid_json_schema``) whatever
the provider would have said about it. ``jsonschema`` is imported on first use: most responses never
carry a schema.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import orjson

from parley.errors import InvalidRequest, UpstreamStatus
from parley.wire.request import CreateResponseRequest, JsonSchemaFormat

if TYPE_CHECKING:
    from jsonschema.protocols import Validator


def check_schema(request: CreateResponseRequest) -> None:
    fmt = request.text.format
    if not isinstance(fmt, JsonSchemaFormat):
        return
    from jsonschema.exceptions import SchemaError

    try:
        _validator(orjson.dumps(fmt.schema_, option=orjson.OPT_SORT_KEYS))
    except SchemaError as exc:
        where = "/".join(map(str, exc.path)) or "the root"
        raise InvalidRequest(
            f"Invalid schema for response_format '{fmt.name}': {exc.message} (at {where}).",
            param="text.format.schema",
            code="invalid_json_schema",
        ) from None


@functools.lru_cache(maxsize=256)
def _validator(schema_json: bytes) -> Validator:
    """A checked validator per distinct schema (a client sends the same few schemas again and again)."""
    from jsonschema.validators import validator_for

    schema = orjson.loads(schema_json)
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def answer_problem(text: str, schema: dict[str, Any] | None) -> str | None:
    """What is wrong with ``text`` as the answer: not JSON, not an object (with no schema), or not
    matching ``schema``; None when it is right."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "is not valid JSON"
    if schema is None:
        return None if isinstance(value, dict) else "is not a JSON object"
    from jsonschema.exceptions import best_match

    error = best_match(_validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)).iter_errors(value))
    if error is None:
        return None
    where = "/".join(map(str, error.absolute_path)) or "the root"
    return f"does not match the schema at {where}: {error.message}"


_ABOUT_THE_SCHEMA = ("schema", "response_format", "grammar")


def refused_schema(exc: UpstreamStatus, request: CreateResponseRequest) -> InvalidRequest | None:
    """A provider's refusal (400, 422) of the request's JSON Schema, as the caller's 400: the schema
    passed Parley's own check but the provider takes less (OpenAI's strict subset, say)."""
    fmt = request.text.format
    if not isinstance(fmt, JsonSchemaFormat) or exc.status not in (400, 422):
        return None
    if not any(word in exc.body.lower() for word in _ABOUT_THE_SCHEMA):
        return None
    return InvalidRequest(
        f"Invalid schema for response_format '{fmt.name}': the provider refused it: {exc.body[:2000]}",
        param="text.format.schema",
        code="invalid_json_schema",
    )

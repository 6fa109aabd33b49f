"""Checks a live answer against what ``/openapi.json`` says that operation answers."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson
from jsonschema import Draft202012Validator

from parley.api.openapi import document


def answer_schema(method: str, path: str, status: int, media: str = "application/json") -> dict[str, Any]:
    """The schema the document gives an answer, found as a client would: by operation and status."""
    answers = document()["paths"][path][method.lower()]["responses"]
    spec = answers.get(str(status)) or answers["default"]
    content = spec["content"][media]
    schema: dict[str, Any] = content.get("x-event-schema") or content["schema"]
    return schema


def validate(data: Any, schema: dict[str, Any]) -> None:
    """Raises ``jsonschema.ValidationError`` naming where ``data`` leaves the document."""
    root = {**document(), **schema}  # a $ref resolves against the document's components
    Draft202012Validator(root).validate(data)


def check(answer: httpx2.Response, method: str, path: str) -> Any:
    """The answer's JSON, once it matches the document for its status."""
    data = answer.json()
    validate(data, answer_schema(method, path, answer.status_code))
    return data


def check_events(answer: httpx2.Response, method: str, path: str) -> list[dict[str, Any]]:
    """Every ``data:`` line of an SSE answer, each checked as the document's event schema."""
    schema = answer_schema(method, path, answer.status_code, "text/event-stream")
    events = [
        orjson.loads(line[len("data: ") :])
        for line in answer.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    for event in events:
        validate(event, schema)
    return events

"""How deep a request's JSON may nest.

orjson reads JSON nested up to 1024 levels but writes at most 254, and pydantic serializes about
as deep; a request nested past that is accepted, then fails where Parley stores it or sends it on
(inside a response object, a stored row, a chat request: each adds levels). So a body nested past
``MAX_DEPTH`` is refused up front, with room to spare for those wrappers.
"""

from __future__ import annotations

from typing import Any

import orjson

from parley.errors import InvalidRequest

MAX_DEPTH = 128
ORJSON_DEPTH = 254
"""The deepest nesting ``orjson.dumps`` writes; deeper raises ``JSONEncodeError``."""


def check_depth(raw: str | bytes, value: Any, what: str = "The request body") -> None:
    """Raises InvalidRequest when ``value`` (decoded from ``raw``) nests deeper than ``MAX_DEPTH``.

    Counting brackets in ``raw`` (fast, in C) settles almost every body; only one with more than
    ``MAX_DEPTH`` of them is measured, by letting orjson write it under enough extra levels that
    ``MAX_DEPTH + 1`` would pass its own limit."""
    brackets = raw.count("[") + raw.count("{") if isinstance(raw, str) else raw.count(b"[") + raw.count(b"{")
    if brackets <= MAX_DEPTH:
        return
    wrapped = value
    for _ in range(ORJSON_DEPTH - MAX_DEPTH):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except orjson.JSONEncodeError:
        raise InvalidRequest(
            f"{what} is nested too deeply: at most {MAX_DEPTH} levels of arrays and objects are allowed.",
            code="invalid_json",
        ) from None

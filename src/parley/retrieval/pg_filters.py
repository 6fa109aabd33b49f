"""Attribute filters compiled for PostgreSQL, over the chunks' JSONB column ``filterable``.

The meaning is ``filters.matches``'s, row for row (``tests/retrieval/test_filters.py`` runs the
same cases through both): equality and ``in`` are JSONB containment, which is exact about kinds
(``"1"`` is not ``1``, ``true`` is not ``1``, ``1`` is ``1.0``) and which the column's GIN index
serves; ordering compares numbers as ``numeric`` (exact, as Python compares an int with a float)
and strings by code point (``COLLATE "C"`` over UTF-8); a comparison never yields NULL, so
``ne``/``nin`` are a plain ``NOT``.

PostgreSQL's text cannot hold a NUL character, so keys and strings are stored, and looked for,
with it replaced (``pg_text``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from parley.retrieval.filters import ComparisonFilter, CompoundFilter, Filter, Scalar

_ORDERING = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def pg_text(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def filterable(attributes: dict[str, Any]) -> str:
    """The JSONB a chunk's attributes are filtered by."""
    return json.dumps({pg_text(key): _pg_value(value) for key, value in attributes.items()})


def to_pg_sql(filter: Filter, params: list[object]) -> str:
    """A WHERE fragment with the meaning of ``filters.matches``; its values are appended to
    ``params`` and numbered after those already there."""
    if isinstance(filter, CompoundFilter):
        joiner = " AND " if filter.type == "and" else " OR "
        return "(" + joiner.join(to_pg_sql(child, params) for child in filter.filters) + ")"
    if filter.type in ("ne", "nin"):
        positive = ComparisonFilter("eq" if filter.type == "ne" else "in", filter.key, filter.value)
        return f"(NOT {to_pg_sql(positive, params)})"
    key = pg_text(filter.key)
    if isinstance(filter.value, tuple):
        params.append([_containing(key, value) for value in filter.value])
        return f"(filterable @> ANY(${len(params)}::jsonb[]))"
    if filter.type == "eq":
        params.append(_containing(key, filter.value))
        return f"(filterable @> ${len(params)}::jsonb)"
    return _ordered(key, _ORDERING[filter.type], filter.value, params)


def _pg_value(value: Any) -> Any:
    return pg_text(value) if isinstance(value, str) else value


def _containing(key: str, value: Scalar) -> str:
    return json.dumps({key: _pg_value(value)})


def _ordered(key: str, op: str, value: Scalar, params: list[object]) -> str:
    if isinstance(value, bool):  # booleans are never ordered
        return "false"
    params.append(key)
    at = f"filterable -> ${len(params)}"
    if isinstance(value, str):
        params.append(pg_text(value))
        kind, left, right = "string", f"({at} #>> '{{}}') COLLATE \"C\"", f"${len(params)}::text"
    else:
        params.append(Decimal(repr(value)))  # the shortest repr orders as the binary float does
        kind, left, right = "number", f"({at})::numeric", f"${len(params)}::numeric"
    return f"(CASE WHEN jsonb_typeof({at}) = '{kind}' THEN {left} {op} {right} ELSE false END)"

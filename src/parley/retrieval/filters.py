"""OpenAI attribute filters: parsed once, then evaluated in Python or compiled to SQLite.

A filter is validated at the request boundary (``parse_filter``) so a bad operator becomes a 400
naming the exact part, not a crash deep inside a search. The same parsed filter is evaluated two
ways that must agree row for row: ``matches`` is the reference predicate, ``to_sql`` is what the
embedded index runs so that filtering happens inside the query instead of by over-fetching.

Semantics (one rule per operator, shared by both evaluators):

* Values have a kind: boolean, number (int or float; dates are unix timestamps) or string.
  Two values are equal only if their kinds agree, so ``"1"`` never equals ``1`` and ``True``
  never equals ``1`` (a JSON boolean is not a number, even though SQLite stores it as 1/0).
* ``eq``/``gt``/``gte``/``lt``/``lte``/``in`` need the key to be present: a missing key matches
  none of them. Ordering compares numbers numerically and strings by code point; booleans and
  mixed kinds are never ordered, so they never match ``gt`` and friends.
* ``ne`` is exactly ``not eq`` and ``nin`` is exactly ``not in``: a missing key (or a value of
  another kind) *does* match them. That keeps ``ne x`` and ``eq x`` complementary, so a store
  splits cleanly into the two answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from parley.errors import InvalidRequest

Scalar: TypeAlias = str | float | bool
ComparisonOp = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]
CompoundOp = Literal["and", "or"]

COMPARISON_OPS: tuple[ComparisonOp, ...] = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
COMPOUND_OPS: tuple[CompoundOp, ...] = ("and", "or")
_ORDERING = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_SQL_KINDS = {"str": "('text')", "num": "('integer', 'real')"}


class FilterError(InvalidRequest):
    """A filter the caller sent is malformed; ``param`` is the path to the bad part."""

    def __init__(self, message: str, *, param: str, code: str = "invalid_value") -> None:
        super().__init__(message, param=param, code=code)


@dataclass(frozen=True)
class ComparisonFilter:
    type: ComparisonOp
    key: str
    value: Scalar | tuple[str | float, ...]


@dataclass(frozen=True)
class CompoundFilter:
    type: CompoundOp
    filters: tuple[Filter, ...]


Filter: TypeAlias = ComparisonFilter | CompoundFilter


# --- parsing ------------------------------------------------------------------------------------


MAX_DEPTH, MAX_TERMS = 10, 500
"""Nesting and total comparisons (an ``in`` value counts each item) a filter may have: well inside
what SQLite compiles (its parser stack and its 1000-deep expression trees)."""
_INT64 = (-(2**63), 2**63 - 1)


def parse_filter(raw: object, param: str = "filters") -> Filter:
    """Validate a filter object from a request; errors name the offending path under ``param``."""
    _check_size(raw, param)
    return _parse(raw, param)


def _check_size(raw: object, param: str) -> None:
    """Refuse a filter too deep, too wide or with an integer beyond 64 bits for SQLite to run.

    Walks without recursion, before ``_parse`` (which recurses) sees the filter; the shape itself
    (operators, keys, value types) is left to ``_parse``.
    """
    terms, stack = 0, [(raw, param, 0)]
    while stack:
        node, path, depth = stack.pop()
        if not isinstance(node, Mapping):
            continue
        children = node.get("filters")
        if node.get("type") in COMPOUND_OPS and isinstance(children, list):
            if depth >= MAX_DEPTH:
                raise FilterError(f"Invalid '{path}': filters nest at most {MAX_DEPTH} deep.", param=path)
            stack += [(child, f"{path}.filters[{i}]", depth + 1) for i, child in enumerate(children)]
            continue
        value = node.get("value")
        values = value if isinstance(value, list) else [value]
        terms += len(values)
        if any(type(v) is int and not _INT64[0] <= v <= _INT64[1] for v in values):
            raise FilterError(f"Invalid '{path}.value': integers must fit in 64 bits.", param=f"{path}.value")
    if terms > MAX_TERMS:
        raise FilterError(f"Invalid '{param}': at most {MAX_TERMS} comparisons, got {terms}.", param=param)


def _parse(raw: object, param: str) -> Filter:
    if not isinstance(raw, Mapping):
        raise FilterError(f"Invalid '{param}': expected an object.", param=param, code="invalid_type")
    op = raw.get("type")
    if op in COMPOUND_OPS:
        return _parse_compound(raw, op, param)
    if op in COMPARISON_OPS:
        return _parse_comparison(raw, op, param)
    valid = ", ".join(f"'{name}'" for name in (*COMPARISON_OPS, *COMPOUND_OPS))
    raise FilterError(
        f"Invalid value for '{param}.type': {op!r}. Supported values are: {valid}.", param=f"{param}.type"
    )


def _parse_compound(raw: Mapping[str, object], op: CompoundOp, param: str) -> CompoundFilter:
    children = raw.get("filters")
    if not isinstance(children, list) or not children:
        raise FilterError(
            f"Invalid '{param}.filters': a '{op}' filter needs a non-empty array of filters.",
            param=f"{param}.filters",
            code="invalid_type",
        )
    parsed = tuple(_parse(child, f"{param}.filters[{i}]") for i, child in enumerate(children))
    return CompoundFilter(op, parsed)


def _parse_comparison(raw: Mapping[str, object], op: ComparisonOp, param: str) -> ComparisonFilter:
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise FilterError(
            f"Invalid '{param}.key': expected a non-empty string.", param=f"{param}.key", code="invalid_type"
        )
    value = raw.get("value")
    if op in ("in", "nin"):
        if not isinstance(value, list) or not all(_is_list_item(item) for item in value):
            raise FilterError(
                f"Invalid '{param}.value': '{op}' needs an array of strings or numbers.",
                param=f"{param}.value",
                code="invalid_type",
            )
        return ComparisonFilter(op, key, tuple(value))
    if not isinstance(value, str | int | float):  # bool is an int
        raise FilterError(
            f"Invalid '{param}.value': '{op}' needs a string, number or boolean.",
            param=f"{param}.value",
            code="invalid_type",
        )
    return ComparisonFilter(op, key, value)


def _is_list_item(item: object) -> bool:
    return isinstance(item, str | int | float) and not isinstance(item, bool)


# --- the reference predicate ----------------------------------------------------------------------


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    return "num" if isinstance(value, int | float) else "str"


def _equal(left: Scalar, right: Scalar) -> bool:
    return _kind(left) == _kind(right) and left == right


def matches(filter: Filter, attributes: Mapping[str, Scalar]) -> bool:
    """Whether ``attributes`` (a vector-store file's attributes) pass ``filter``."""
    if isinstance(filter, CompoundFilter):
        results = (matches(child, attributes) for child in filter.filters)
        return all(results) if filter.type == "and" else any(results)
    if filter.type in ("ne", "nin"):
        positive = ComparisonFilter("eq" if filter.type == "ne" else "in", filter.key, filter.value)
        return not matches(positive, attributes)
    if filter.key not in attributes:
        return False
    actual, wanted = attributes[filter.key], filter.value
    if isinstance(wanted, tuple):
        return any(_equal(actual, item) for item in wanted)
    if filter.type == "eq":
        return _equal(actual, wanted)
    kind = _kind(actual)
    if kind == "bool" or kind != _kind(wanted):
        return False
    return _order(filter.type, actual, wanted)


def _order(op: str, actual: Scalar, wanted: Scalar) -> bool:
    # Kinds were checked by the caller: both are numbers or both are strings.
    a, w = actual, wanted
    if op == "gt":
        return a > w  # type: ignore[operator]
    if op == "gte":
        return a >= w  # type: ignore[operator]
    if op == "lt":
        return a < w  # type: ignore[operator]
    return a <= w  # type: ignore[operator]


# --- SQL ------------------------------------------------------------------------------------------


def to_sql(filter: Filter) -> tuple[str, list[object]]:
    """A WHERE fragment over a JSON column ``attributes`` with the same meaning as ``matches``.

    Every comparison is wrapped so it yields 0/1, never NULL (a missing key makes SQLite's JSON
    functions return NULL), which is what lets ``ne``/``nin`` be a plain ``NOT``.
    """
    if isinstance(filter, CompoundFilter):
        parts = [to_sql(child) for child in filter.filters]
        joiner = " AND " if filter.type == "and" else " OR "
        return "(" + joiner.join(sql for sql, _ in parts) + ")", [p for _, params in parts for p in params]
    if filter.type in ("ne", "nin"):
        positive = ComparisonFilter("eq" if filter.type == "ne" else "in", filter.key, filter.value)
        sql, params = to_sql(positive)
        return f"(NOT {sql})", params
    wanted = filter.value
    values = wanted if isinstance(wanted, tuple) else (wanted,)
    parts = [_sql_compare(filter.key, filter.type, value) for value in values]
    if not parts:
        return "(0)", []
    return "(" + " OR ".join(sql for sql, _ in parts) + ")", [p for _, params in parts for p in params]


def _sql_compare(key: str, op: str, value: Scalar) -> tuple[str, list[object]]:
    type_sql, value_sql, key_params = _json_access(key)
    kind = _kind(value)
    if kind == "bool":
        if op not in ("eq", "in"):
            return "(0)", []
        return f"COALESCE({type_sql} = ?, 0)", [*key_params, "true" if value else "false"]
    sql_op = _ORDERING.get(op, "=")
    sql = f"COALESCE(({type_sql} IN {_SQL_KINDS[kind]} AND {value_sql} {sql_op} ?), 0)"
    return sql, [*key_params, *key_params, value]


def _json_access(key: str) -> tuple[str, str, list[object]]:
    """SQL for the JSON type and value of ``key``, with the key bound as a parameter.

    SQLite's JSON path syntax cannot quote a ``"`` inside a key, so such keys take the slower but
    exact ``json_each`` route rather than being rejected.
    """
    if '"' not in key:
        return "json_type(attributes, ?)", "json_extract(attributes, ?)", [f'$."{key}"']
    return (
        "(SELECT type FROM json_each(attributes) WHERE key = ?)",
        "(SELECT value FROM json_each(attributes) WHERE key = ?)",
        [key],
    )

"""Attribute filters: the Python predicate is the reference, and SQLite must agree with it row for row."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import asyncpg
import pytest

from parley.errors import InvalidRequest
from parley.retrieval.filters import FilterError, matches, parse_filter, to_sql
from parley.retrieval.pg_filters import filterable, to_pg_sql
from tests.support.postgres import fresh_schema

ROWS: list[dict[str, str | float | bool]] = [
    {},
    {"a": 1},
    {"a": 2.5},
    {"a": "1"},
    {"a": "b"},
    {"a": True},
    {"a": False},
    {"a": 0},
    {"b": 3},
    {"a": 10, "b": "x"},
    {"a": "B"},
    {"a": "é"},
    {'q"k': "v", "x.y": 2},
    {"date": 1_700_000_000, "a": -1},
]

# (filter, indexes of ROWS it must match) -- the semantics, spelled out by hand.
CASES: list[tuple[dict[str, object], set[int]]] = [
    ({"type": "eq", "key": "a", "value": 1}, {1}),
    ({"type": "eq", "key": "a", "value": 1.0}, {1}),
    ({"type": "eq", "key": "a", "value": "1"}, {3}),
    ({"type": "eq", "key": "a", "value": True}, {5}),
    ({"type": "eq", "key": "a", "value": False}, {6}),
    ({"type": "eq", "key": "a", "value": 0}, {7}),
    ({"type": "ne", "key": "a", "value": 1}, set(range(len(ROWS))) - {1}),
    ({"type": "ne", "key": "a", "value": True}, set(range(len(ROWS))) - {5}),
    ({"type": "gt", "key": "a", "value": 1}, {2, 9}),
    ({"type": "gte", "key": "a", "value": 1}, {1, 2, 9}),
    ({"type": "lt", "key": "a", "value": 1}, {7, 13}),
    ({"type": "lte", "key": "a", "value": 0}, {7, 13}),
    ({"type": "gt", "key": "a", "value": "a"}, {4, 11}),
    ({"type": "lt", "key": "a", "value": "a"}, {3, 10}),
    ({"type": "gt", "key": "a", "value": True}, set()),
    ({"type": "gte", "key": "date", "value": 1_600_000_000}, {13}),
    ({"type": "in", "key": "a", "value": [1, "b", 99]}, {1, 4}),
    ({"type": "in", "key": "a", "value": []}, set()),
    ({"type": "nin", "key": "a", "value": [1, "b"]}, set(range(len(ROWS))) - {1, 4}),
    ({"type": "nin", "key": "a", "value": []}, set(range(len(ROWS)))),
    ({"type": "eq", "key": "b", "value": 3}, {8}),
    ({"type": "eq", "key": 'q"k', "value": "v"}, {12}),
    ({"type": "eq", "key": "x.y", "value": 2}, {12}),
    ({"type": "ne", "key": 'q"k', "value": "v"}, set(range(len(ROWS))) - {12}),
    (
        {
            "type": "and",
            "filters": [{"type": "gte", "key": "a", "value": 1}, {"type": "eq", "key": "b", "value": "x"}],
        },
        {9},
    ),
    (
        {
            "type": "or",
            "filters": [
                {"type": "eq", "key": "a", "value": "b"},
                {
                    "type": "and",
                    "filters": [
                        {"type": "ne", "key": "a", "value": 10},
                        {"type": "in", "key": "b", "value": [3, "x"]},
                    ],
                },
            ],
        },
        {4, 8},
    ),
]


@pytest.fixture(scope="module")
def table() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (i INTEGER, attributes TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, json.dumps(row)) for i, row in enumerate(ROWS)])
    yield conn
    conn.close()


def sql_matches(conn: sqlite3.Connection, raw: dict[str, object]) -> set[int]:
    where, params = to_sql(parse_filter(raw))
    return {row[0] for row in conn.execute(f"SELECT i FROM t WHERE {where}", params)}


@pytest.mark.parametrize(("raw", "expected"), CASES, ids=[json.dumps(raw)[:60] for raw, _ in CASES])
def test_python_and_sql_agree_with_the_spelled_out_semantics(
    table: sqlite3.Connection, raw: dict[str, object], expected: set[int]
) -> None:
    flt = parse_filter(raw)
    assert {i for i, row in enumerate(ROWS) if matches(flt, row)} == expected
    assert sql_matches(table, raw) == expected


def test_ne_and_nin_are_the_complements_of_eq_and_in(table: sqlite3.Connection) -> None:
    everything = set(range(len(ROWS)))
    for key in ("a", "b", "missing"):
        for value in (1, "b", True, 2.5):
            eq = sql_matches(table, {"type": "eq", "key": key, "value": value})
            assert sql_matches(table, {"type": "ne", "key": key, "value": value}) == everything - eq
        listed = sql_matches(table, {"type": "in", "key": key, "value": [1, "x"]})
        assert sql_matches(table, {"type": "nin", "key": key, "value": [1, "x"]}) == everything - listed


def test_a_parsed_filter_is_hashable_so_it_can_key_a_cache() -> None:
    raw = {"type": "and", "filters": [{"type": "in", "key": "a", "value": [1, 2]}]}
    assert hash(parse_filter(raw)) == hash(parse_filter(raw))


BAD: list[tuple[object, str, str]] = [
    ({"type": "like", "key": "a", "value": 1}, "filters.type", "invalid_value"),
    ({"key": "a", "value": 1}, "filters.type", "invalid_value"),
    (
        {"type": "and", "filters": [{"type": "eq", "key": "a", "value": 1}, {"type": "bogus"}]},
        "filters.filters[1].type",
        "invalid_value",
    ),
    (
        {"type": "or", "filters": [{"type": "and", "filters": [{"type": "eq", "key": "", "value": 1}]}]},
        "filters.filters[0].filters[0].key",
        "invalid_type",
    ),
    ("eq", "filters", "invalid_type"),
    ({"type": "in", "key": "a", "value": "x"}, "filters.value", "invalid_type"),
    ({"type": "in", "key": "a", "value": [True]}, "filters.value", "invalid_type"),
    ({"type": "eq", "value": 1}, "filters.key", "invalid_type"),
    ({"type": "eq", "key": "a", "value": None}, "filters.value", "invalid_type"),
    ({"type": "gt", "key": "a", "value": [1]}, "filters.value", "invalid_type"),
    ({"type": "or", "filters": []}, "filters.filters", "invalid_type"),
    ({"type": "and", "filters": {"type": "eq"}}, "filters.filters", "invalid_type"),
]


@pytest.mark.parametrize(("raw", "param", "code"), BAD, ids=[param for _, param, _ in BAD])
def test_bad_filters_name_the_offending_part(raw: object, param: str, code: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(raw)
    assert isinstance(caught.value, InvalidRequest)
    assert caught.value.param == param
    assert caught.value.code == code


def test_a_bad_operator_lists_the_valid_ones_under_the_callers_param() -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter({"type": "contains", "key": "a", "value": 1}, param="tools[0].filters")
    assert caught.value.param == "tools[0].filters.type"
    for op in ("'eq'", "'ne'", "'gt'", "'gte'", "'lt'", "'lte'", "'in'", "'nin'", "'and'", "'or'"):
        assert op in caught.value.message
    assert "'contains'" in caught.value.message


async def test_postgres_agrees_with_the_spelled_out_semantics(postgres_url: str) -> None:
    """The same cases compiled for PostgreSQL (``pg_filters``), over the JSONB the chunks keep."""
    async with fresh_schema(postgres_url) as url:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("CREATE TABLE t (i INTEGER, filterable JSONB)")
            await conn.executemany(
                "INSERT INTO t VALUES ($1, $2)", [(i, filterable(r)) for i, r in enumerate(ROWS)]
            )

            async def pg_matches(raw: dict[str, object]) -> set[int]:
                params: list[object] = []
                where = to_pg_sql(parse_filter(raw), params)
                return {row[0] for row in await conn.fetch(f"SELECT i FROM t WHERE {where}", *params)}

            for raw, expected in CASES:
                assert await pg_matches(raw) == expected, raw
            everything = set(range(len(ROWS)))
            for key in ("a", "b", "missing"):
                for value in (1, "b", True, 2.5):
                    eq = await pg_matches({"type": "eq", "key": key, "value": value})
                    assert await pg_matches({"type": "ne", "key": key, "value": value}) == everything - eq
        finally:
            await conn.close()

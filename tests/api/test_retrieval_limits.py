"""The other side of every limit ``test_retrieval_errors*.py`` refuses: values at the boundary are
accepted and mean what they say (a 10-deep filter still filters, 16 keys are all kept, ``null``
clears a field), so no check is off by one or stricter than OpenAI's.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_retrieval_errors import LEAF, World, nested, send, static, world

__all__ = ["world"]  # the module-scoped fixture: this module gets its own server

pytestmark = pytest.mark.asyncio(loop_scope="module")

SEARCH = "/vector_stores/<vs>/search"


async def ok(world: World, method: str, path: str, body: Any = None) -> Any:
    r = await send(world, method, path, body)
    assert r.status_code == 200, r.text
    return r.json()


async def found(world: World, body: Any) -> list[str]:
    """File ids a search of the world's store returns ("lease" matches its one file)."""
    page = await ok(world, "POST", SEARCH, {"query": "lease", **body} if isinstance(body, dict) else body)
    return [hit["file_id"] for hit in page["data"]]


META16 = {f"k{i}": "v" * 512 for i in range(15)} | {"k" * 64: "v"}


@pytest.mark.parametrize(
    ("body", "echo"),
    [
        pytest.param({"metadata": META16}, {"metadata": META16}, id="metadata-16-keys-64-512"),
        pytest.param({"name": None, "metadata": None}, {"name": "", "metadata": {}}, id="nulls"),
        pytest.param(
            {"expires_after": {"anchor": "last_active_at", "days": 1}},
            {"expires_after": {"anchor": "last_active_at", "days": 1}},
            id="expires-1-day",
        ),
        pytest.param(
            {"expires_after": {"anchor": "last_active_at", "days": 365}},
            {"expires_after": {"anchor": "last_active_at", "days": 365}},
            id="expires-365-days",
        ),
    ],
)
async def test_store_fields_at_the_boundary(world: World, body: dict[str, Any], echo: dict[str, Any]) -> None:
    created = await ok(world, "POST", "/vector_stores", body)
    assert {key: created[key] for key in echo} == echo
    assert await ok(world, "GET", f"/vector_stores/{created['id']}") == created


@pytest.mark.parametrize(
    "strategy",
    [static(100, 50), static(4096, 2048), static(800, 0), {"type": "auto"}, None],
    ids=["100-50", "4096-2048", "no-overlap", "auto", "omitted"],
)
async def test_chunking_at_the_boundary(world: World, strategy: dict[str, Any] | None) -> None:
    """On a new store's files, an attached file and a batch; ``auto`` is reported as static 800/400."""
    expected = static(800, 400) if strategy is None or strategy["type"] == "auto" else strategy
    chunking = {} if strategy is None else {"chunking_strategy": strategy}
    store = await ok(world, "POST", "/vector_stores", {"file_ids": ["<loose>"], **chunking})
    assert store["file_counts"]["total"] == 1
    listed = await ok(world, "GET", f"/vector_stores/{store['id']}/files")
    assert [f["chunking_strategy"] for f in listed["data"]] == [expected]
    attached = await ok(
        world, "POST", f"/vector_stores/{store['id']}/files", {"file_id": "<file>", **chunking}
    )
    assert attached["chunking_strategy"] == expected
    body = {"file_ids": ["<loose>", "<file>", "<loose>"], **chunking}
    batch = await ok(world, "POST", f"/vector_stores/{store['id']}/file_batches", body)
    assert batch["file_counts"]["total"] == 2  # a repeated id is attached once
    members = await ok(world, "GET", f"/vector_stores/{store['id']}/file_batches/{batch['id']}/files")
    assert [m["chunking_strategy"] for m in members["data"]] == [expected, expected]


async def test_batch_files_each_keep_their_own_attributes(world: World) -> None:
    store = await ok(world, "POST", "/vector_stores", {})
    files = [{"file_id": "<loose>", "attributes": {"n": 1}}, {"file_id": "<loose>", "attributes": {"n": 2}}]
    body = {"files": [*files, {"file_id": "<file>"}], "attributes": {"ignored": True}}
    path = f"/vector_stores/{store['id']}/file_batches"
    batch = await ok(world, "POST", path, body)
    assert batch["file_counts"]["total"] == 2
    members = await ok(world, "GET", f"{path}/{batch['id']}/files?order=asc")
    assert [m["attributes"] for m in members["data"]] == [{"n": 2}, {}]  # the last spec of a file wins
    cancelled = await ok(world, "POST", f"{path}/{batch['id']}/cancel")
    assert cancelled["id"] == batch["id"]
    assert await ok(world, "GET", f"{path}/{batch['id']}") == cancelled


async def test_modify_store_null_clears_and_omitted_keeps(world: World) -> None:
    body = {"name": "s", "metadata": {"a": "b"}, "expires_after": {"anchor": "last_active_at", "days": 3}}
    store = await ok(world, "POST", "/vector_stores", body)
    path = f"/vector_stores/{store['id']}"
    same = await ok(world, "POST", path, {})
    assert (same["name"], same["metadata"], same["expires_after"]) == ("s", {"a": "b"}, body["expires_after"])
    cleared = await ok(world, "POST", path, {"name": None, "metadata": None, "expires_after": None})
    assert (cleared["name"], cleared["metadata"], cleared["expires_after"], cleared["expires_at"]) == (
        "s",
        {},
        None,
        None,
    )
    renamed = await ok(world, "POST", path, {"name": "t", "metadata": META16})
    assert (renamed["name"], renamed["metadata"]) == ("t", META16)
    assert (await ok(world, "DELETE", path))["deleted"] is True


async def test_attributes_at_the_boundary_and_null_clears(world: World) -> None:
    attributes = {"s": "x" * 512, "i": -(2**63), "f": 0.5, "b": False} | {f"k{i}": i for i in range(11)}
    attributes["k" * 64] = True
    assert len(attributes) == 16
    path = "/vector_stores/<vs>/files/<file>"
    try:
        assert (await ok(world, "POST", path, {"attributes": attributes}))["attributes"] == attributes
        assert await found(world, {"filters": {"type": "eq", "key": "k" * 64, "value": True}}) == [
            world.ids["<file>"]
        ]
        assert (await ok(world, "POST", path, {"attributes": None}))["attributes"] == {}
        assert await found(world, {"filters": {"type": "eq", "key": "b", "value": False}}) == []
    finally:
        await ok(world, "POST", path, {"attributes": {"region": "us"}})


@pytest.mark.parametrize(
    "body",
    [
        {"max_num_results": 1},
        {"max_num_results": 50},
        {"ranking_options": {"score_threshold": 0, "ranker": "none"}},
        {"ranking_options": {"ranker": "weighted", "alpha": 0}},
        {"ranking_options": {"ranker": "weighted", "alpha": 1}},
        {"ranking_options": None, "filters": None, "rewrite_query": False},
        {"query": ["lease", "warehouse"], "search_mode": "keyword"},
    ],
    ids=["results-1", "results-50", "threshold-0", "alpha-0", "alpha-1", "nulls", "query-list"],
)
async def test_search_options_at_the_boundary(world: World, body: dict[str, Any]) -> None:
    assert await found(world, body) == [world.ids["<file>"]]


async def test_a_score_threshold_of_one_keeps_only_perfect_hits(world: World) -> None:
    page = await ok(world, "POST", SEARCH, {"query": "lease", "ranking_options": {"score_threshold": 1}})
    assert all(hit["score"] >= 1 for hit in page["data"])


US = '{"type": "eq", "key": "region", "value": "us"}'


@pytest.mark.parametrize(
    ("body", "matches"),
    [
        pytest.param(nested(10, US), True, id="10-deep-us"),
        pytest.param(nested(10), False, id="10-deep-eu"),
        pytest.param({"filters": {"type": "in", "key": "region", "value": [*map(str, range(499)), "us"]}},
                     True, id="in-500-values"),
        pytest.param({"filters": {"type": "or", "filters": [LEAF] * 499 + [{**LEAF, "value": "us"}]}}, True,
                     id="or-500-comparisons"),
        pytest.param({"filters": {"type": "nin", "key": "n", "value": [2**63 - 1, -(2**63)]}}, True,
                     id="int64-bounds"),
    ],
)  # fmt: skip
async def test_filters_at_the_limits_still_filter(world: World, body: Any, matches: bool) -> None:
    assert await found(world, body) == ([world.ids["<file>"]] if matches else [])


@pytest.mark.parametrize(
    "path",
    [
        "/vector_stores?limit=1",
        "/vector_stores?limit=100&order=asc",
        "/vector_stores/<vs>/files?limit=100&filter=completed",
        "/vector_stores/<vs>/file_batches/<batch>/files?limit=1&order=asc",
        "/files?limit=10000&order=asc&purpose=assistants",
    ],
)
async def test_list_limits_at_the_boundary(world: World, path: str) -> None:
    page = await ok(world, "GET", path)
    assert page["object"] == "list"
    assert 1 <= len(page["data"]) <= int(path.split("limit=")[1].split("&")[0])

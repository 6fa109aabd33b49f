"""Bad input to every Vector Stores endpoint: an OpenAI error body, and nothing changed.

Every refused request runs against one shared server (a store holding one file from a batch, and a
file in no store) and must leave it exactly as it was: the same stores, files, memberships, batch
rows and blobs, down to ``last_active_at``. The error body is checked with the house
``assert_error``: exact keys, status, type, ``param`` in OpenAI's spelling, and ``code``.
The Files API, wrong methods and unknown routes are in ``test_retrieval_errors_http.py``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any
from unittest.mock import ANY

import httpx2
import orjson
import pytest
import pytest_asyncio

from tests.api.retrieval_support import DOCS, Parley, wait_for_file
from tests.api.test_errors import assert_error

pytestmark = pytest.mark.asyncio(loop_scope="module")

MISSING, VALUE, TYPE, NOT_FOUND = "missing_required_parameter", "invalid_value", "invalid_type", "not_found"
STATIC = "chunking_strategy.static"
LEAF = {"type": "eq", "key": "region", "value": "eu"}


@dataclass
class World:
    parley: Parley
    ids: dict[str, str]  # <vs>, <file> (in the store), <loose> (in no store), <batch>

    @property
    def raw(self) -> httpx2.AsyncClient:
        return self.parley.raw

    def fill(self, text: str) -> str:
        for token, value in self.ids.items():
            text = text.replace(token, value)
        return text


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    server = Parley(tmp_path_factory.mktemp("retrieval-errors"), {"max_file_bytes": 1000})
    sdk = server.start()
    file = await sdk.files.create(file=("memo.txt", DOCS["us-memo.txt"][0]), purpose="assistants")
    loose = await sdk.files.create(file=("loose.txt", b"not in any store"), purpose="user_data")
    store = await sdk.vector_stores.create(name="errors", metadata={"team": "ops"})
    batch = await sdk.vector_stores.file_batches.create(
        vector_store_id=store.id, files=[{"file_id": file.id, "attributes": {"region": "us"}}]
    )
    assert (await wait_for_file(sdk, store.id, file.id)).status == "completed"
    yield World(server, {"<vs>": store.id, "<file>": file.id, "<loose>": loose.id, "<batch>": batch.id})
    await server.stop()


async def snapshot(w: World) -> dict[str, Any]:
    """Everything a refused request could have touched."""
    stores = (await w.raw.get("/vector_stores", params={"limit": 100})).json()["data"]
    members = {
        s["id"]: (await w.raw.get(f"/vector_stores/{s['id']}/files", params={"limit": 100})).json()["data"]
        for s in stores
    }
    data_dir = w.parley.data_dir
    with closing(sqlite3.connect(f"file:{data_dir / 'parley.db'}?mode=ro", uri=True)) as conn:
        batches = conn.execute("SELECT id, cancelled FROM vector_store_file_batches").fetchall()
    return {
        "stores": stores,
        "members": members,
        "files": (await w.raw.get("/files")).json()["data"],
        "batches": sorted(batches),
        "blobs": sorted(p.name for p in (data_dir / "files").rglob("*") if p.is_file()),
    }


async def send(w: World, method: str, path: str, body: Any) -> httpx2.Response:
    """``body`` is a JSON value, raw bytes, or None for no body; <tokens> become the world's ids."""
    if body is None:
        return await w.raw.request(method, w.fill(path))
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()  # orjson stops at 64 bits
    content = w.fill(raw.decode(errors="surrogateescape")).encode(errors="surrogateescape")
    return await w.raw.request(
        method, w.fill(path), content=content, headers={"content-type": "application/json"}
    )


def nested(depth: int, leaf: str = orjson.dumps(LEAF).decode()) -> bytes:
    """A search body whose filter is ``depth`` ``and``s deep (built as text: too deep to encode)."""
    text = '{"type": "and", "filters": [' * depth + leaf + "]}" * depth
    return f'{{"query": "lease", "filters": {text}}}'.encode()


def static(size: Any = 800, overlap: Any = 400) -> dict[str, Any]:
    return {"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}}


def case(method: str, path: str, body: Any, status: int, param: str | None, code: Any, id: str) -> Any:
    return pytest.param(method, path, body, status, param, code, id=id)


VS, SF, FB = "/vector_stores", "/vector_stores/<vs>/files", "/vector_stores/<vs>/file_batches"
META17 = {f"k{i}": "v" for i in range(17)}
ATTR17 = {f"k{i}": i for i in range(17)}
LONG_KEY = {"k" * 65: "v"}
ROOT = None  # the error is about the whole body, not one field

STORE_CASES = [
    case("POST", VS, b'{"name": ', 400, ROOT, "invalid_json", "create-malformed-json"),
    case("POST", VS, b"", 400, ROOT, "invalid_json", "create-empty-body"),
    case("POST", VS, [{"name": "x"}], 400, ROOT, TYPE, "create-json-array"),
    case("POST", VS, b"[" * 2000 + b"]" * 2000, 400, ROOT, "invalid_json", "create-json-too-deep"),
    case("POST", VS, {"name": 5}, 400, "name", TYPE, "create-name-number"),
    case("POST", VS, {"metadata": "team=ops"}, 400, "metadata", TYPE, "create-metadata-string"),
    case("POST", VS, {"metadata": META17}, 400, "metadata", VALUE, "create-metadata-17-keys"),
    case("POST", VS, {"metadata": LONG_KEY}, 400, "metadata", VALUE, "create-metadata-key-65"),
    case("POST", VS, {"metadata": {"team": "x" * 513}}, 400, "metadata.team", VALUE, "create-metadata-513"),
    case("POST", VS, {"metadata": {"team": 5}}, 400, "metadata.team", VALUE, "create-metadata-number"),
    case("POST", VS, {"metadata": {"a b": 5}}, 400, "metadata", VALUE, "create-metadata-odd-key"),
    case("POST", VS, {"expires_after": "7d"}, 400, "expires_after", TYPE, "create-expires-string"),
    case("POST", VS, {"expires_after": {"anchor": "created_at", "days": 7}}, 400, "expires_after.anchor",
         VALUE, "create-expires-anchor"),
    case("POST", VS, {"expires_after": {"anchor": "last_active_at"}}, 400, "expires_after.days", ANY,
         "create-expires-no-days"),
    *[case("POST", VS, {"expires_after": {"anchor": "last_active_at", "days": days}}, 400,
           "expires_after.days", VALUE, f"create-expires-days-{days}") for days in (0, 366, "7", True)],
    case("POST", VS, {"file_ids": "<loose>"}, 400, "file_ids", TYPE, "create-file-ids-string"),
    case("POST", VS, {"file_ids": [5]}, 400, "file_ids", TYPE, "create-file-ids-number"),
    case("POST", VS, {"file_ids": ["<loose>"] * 2001}, 400, "file_ids", VALUE, "create-file-ids-2001"),
    case("POST", VS, {"file_ids": ["<loose>", "file-nope"]}, 404, "file_id", NOT_FOUND,
         "create-unknown-file"),
    case("POST", VS, {"file_ids": ["<loose>"], "chunking_strategy": "auto"}, 400, "chunking_strategy",
         TYPE, "create-chunking-string"),
    case("POST", VS, {"file_ids": ["<loose>"], "chunking_strategy": {"type": "dynamic"}}, 400,
         "chunking_strategy.type", VALUE, "create-chunking-type"),
    case("POST", VS, {"file_ids": ["<loose>"], "chunking_strategy": {"type": "static"}}, 400, STATIC,
         MISSING, "create-chunking-no-static"),
    *[case("POST", VS, {"file_ids": ["<loose>"], "chunking_strategy": static(size, 0)}, 400,
           f"{STATIC}.max_chunk_size_tokens", code, f"create-chunk-size-{size}")
      for size, code in ((99, VALUE), (4097, VALUE), ("800", TYPE), (800.5, TYPE))],
    case("POST", VS, {"file_ids": ["<loose>"], "chunking_strategy": static(800, 401)}, 400,
         f"{STATIC}.chunk_overlap_tokens", VALUE, "create-overlap-over-half"),
    case("POST", VS, {"file_ids": ["<loose>"], "chunking_strategy": static(800, -1)}, 400,
         f"{STATIC}.chunk_overlap_tokens", VALUE, "create-overlap-negative"),
    case("POST", VS, {"chunking_strategy": static(50, 0)}, 400, f"{STATIC}.max_chunk_size_tokens", VALUE,
         "create-chunking-checked-without-files"),
    *[case("GET", f"{VS}?{query}", None, 400, query.split("=")[0], VALUE, f"list-{query}")
      for query in ("limit=0", "limit=101", "limit=ten", "order=sideways")],
    case("GET", f"{VS}/vs_nope", None, 404, "vector_store_id", NOT_FOUND, "retrieve-unknown"),
    case("POST", f"{VS}/<vs>", {"name": ["x"]}, 400, "name", TYPE, "modify-name-list"),
    case("POST", f"{VS}/<vs>", {"metadata": META17}, 400, "metadata", VALUE, "modify-metadata-17"),
    case("POST", f"{VS}/<vs>", {"expires_after": {"anchor": "last_active_at", "days": 0}}, 400,
         "expires_after.days", VALUE, "modify-expires-days-0"),
    case("POST", f"{VS}/<vs>", b"{nope", 400, ROOT, "invalid_json", "modify-malformed-json"),
    case("POST", f"{VS}/<vs>", b'"rename"', 400, ROOT, TYPE, "modify-json-string"),
    case("POST", f"{VS}/vs_nope", {"name": "x"}, 404, "vector_store_id", NOT_FOUND, "modify-unknown"),
    case("DELETE", f"{VS}/vs_nope", None, 404, "vector_store_id", NOT_FOUND, "delete-unknown"),
]  # fmt: skip

STORE_FILE_CASES = [
    case("POST", SF, {}, 400, "file_id", MISSING, "attach-no-file-id"),
    case("POST", SF, {"file_id": 5}, 400, "file_id", TYPE, "attach-file-id-number"),
    case("POST", SF, {"file_id": ""}, 400, "file_id", TYPE, "attach-file-id-empty"),
    case("POST", SF, {"file_id": "<loose>", "attributes": "a"}, 400, "attributes", TYPE, "attach-attrs-str"),
    *[case("POST", SF, {"file_id": "<loose>", "attributes": attrs}, 400, "attributes", VALUE, f"attach-{id}")
      for id, attrs in (("17-keys", ATTR17), ("key-65", LONG_KEY))],
    *[case("POST", SF, {"file_id": "<loose>", "attributes": {"k": value}}, 400, "attributes.k", VALUE,
           f"attach-attr-{name}") for name, value in
      (("513-chars", "x" * 513), ("null", None), ("list", [1]), ("object", {"a": 1}))],
    case("POST", SF, {"file_id": "<loose>", "chunking_strategy": static(5000, 0)}, 400,
         f"{STATIC}.max_chunk_size_tokens", VALUE, "attach-chunk-size-5000"),
    case("POST", SF, {"file_id": "file-nope"}, 404, "file_id", NOT_FOUND, "attach-unknown-file"),
    case("POST", "/vector_stores/vs_nope/files", {"file_id": "<loose>"}, 404, "vector_store_id", NOT_FOUND,
         "attach-unknown-store"),
    case("POST", SF, b'{"file_id": "<loose>",}', 400, ROOT, "invalid_json", "attach-malformed-json"),
    *[case("GET", f"{SF}?{query}", None, 400, query.split("=")[0], VALUE, f"list-files-{query}")
      for query in ("limit=0", "limit=101", "order=newest", "filter=done")],
    case("GET", "/vector_stores/vs_nope/files", None, 404, "vector_store_id", NOT_FOUND, "list-files-store"),
    case("GET", f"{SF}/<loose>", None, 404, "file_id", NOT_FOUND, "retrieve-file-not-in-store"),
    case("GET", f"{SF}/file-nope", None, 404, "file_id", NOT_FOUND, "retrieve-unknown-file"),
    case("GET", "/vector_stores/vs_nope/files/<file>", None, 404, "vector_store_id", NOT_FOUND,
         "retrieve-file-unknown-store"),
    case("POST", f"{SF}/<file>", {}, 400, "attributes", MISSING, "update-no-attributes"),
    case("POST", f"{SF}/<file>", {"attributes": 5}, 400, "attributes", TYPE, "update-attributes-number"),
    case("POST", f"{SF}/<file>", {"attributes": ATTR17}, 400, "attributes", VALUE, "update-17-keys"),
    case("POST", f"{SF}/<file>", {"attributes": {"k": "x" * 513}}, 400, "attributes.k", VALUE, "update-513"),
    case("POST", f"{SF}/<loose>", {"attributes": {}}, 404, "file_id", NOT_FOUND, "update-file-not-in-store"),
    case("POST", "/vector_stores/vs_nope/files/<file>", {"attributes": {}}, 404, "vector_store_id",
         NOT_FOUND, "update-unknown-store"),
    case("DELETE", f"{SF}/<loose>", None, 404, "file_id", NOT_FOUND, "detach-file-not-in-store"),
    case("DELETE", "/vector_stores/vs_nope/files/<file>", None, 404, "vector_store_id", NOT_FOUND,
         "detach-unknown-store"),
    case("GET", f"{SF}/<loose>/content", None, 404, "file_id", NOT_FOUND, "content-file-not-in-store"),
    case("GET", "/vector_stores/vs_nope/files/<file>/content", None, 404, "vector_store_id", NOT_FOUND,
         "content-unknown-store"),
]  # fmt: skip

BATCH_CASES = [
    case("POST", FB, {}, 400, "file_ids", MISSING, "batch-neither"),
    case("POST", FB, {"file_ids": ["<loose>"], "files": [{"file_id": "<loose>"}]}, 400, "file_ids", ANY,
         "batch-both"),
    case("POST", FB, {"file_ids": []}, 400, "file_ids", VALUE, "batch-file-ids-empty"),
    case("POST", FB, {"file_ids": "<loose>"}, 400, "file_ids", TYPE, "batch-file-ids-string"),
    case("POST", FB, {"file_ids": ["<loose>"] * 2001}, 400, "file_ids", VALUE, "batch-file-ids-2001"),
    case("POST", FB, {"files": []}, 400, "files", ANY, "batch-files-empty"),
    case("POST", FB, {"files": {"file_id": "<loose>"}}, 400, "files", TYPE, "batch-files-object"),
    case("POST", FB, {"files": ["<loose>"]}, 400, "files[0]", TYPE, "batch-files-item-string"),
    case("POST", FB, {"files": [{"file_id": "<loose>"}, {}]}, 400, "files[1].file_id", MISSING,
         "batch-files-item-no-id"),
    case("POST", FB, {"files": [{"file_id": "<loose>", "attributes": ATTR17}]}, 400, "files[0].attributes",
         VALUE, "batch-files-17-keys"),
    case("POST", FB, {"files": [{"file_id": "<loose>", "attributes": {"k": None}}]}, 400,
         "files[0].attributes.k", VALUE, "batch-files-attr-null"),
    case("POST", FB, {"files": [{"file_id": "<loose>", "chunking_strategy": static(200, 101)}]}, 400,
         f"files[0].{STATIC}.chunk_overlap_tokens", VALUE, "batch-files-overlap-over-half"),
    case("POST", FB, {"file_ids": ["<loose>"], "attributes": {"k": [1]}}, 400, "attributes.k", VALUE,
         "batch-shared-attr-list"),
    case("POST", FB, {"file_ids": ["<loose>"], "chunking_strategy": static(800, 800)}, 400,
         f"{STATIC}.chunk_overlap_tokens", VALUE, "batch-shared-overlap"),
    case("POST", FB, {"file_ids": ["<loose>", "file-nope"]}, 404, "file_id", NOT_FOUND, "batch-unknown-file"),
    case("POST", FB, {"files": [{"file_id": "file-nope"}]}, 404, "file_id", NOT_FOUND, "batch-files-unknown"),
    case("POST", "/vector_stores/vs_nope/file_batches", {"file_ids": ["<loose>"]}, 404, "vector_store_id",
         NOT_FOUND, "batch-unknown-store"),
    case("GET", f"{FB}/vsfb_nope", None, 404, "batch_id", NOT_FOUND, "batch-retrieve-unknown"),
    case("GET", "/vector_stores/vs_nope/file_batches/<batch>", None, 404, "vector_store_id", NOT_FOUND,
         "batch-retrieve-unknown-store"),
    case("POST", f"{FB}/vsfb_nope/cancel", None, 404, "batch_id", NOT_FOUND, "batch-cancel-unknown"),
    case("POST", "/vector_stores/vs_nope/file_batches/<batch>/cancel", None, 404, "vector_store_id",
         NOT_FOUND, "batch-cancel-unknown-store"),
    case("GET", f"{FB}/vsfb_nope/files", None, 404, "batch_id", NOT_FOUND, "batch-files-unknown-batch"),
    case("GET", "/vector_stores/vs_nope/file_batches/<batch>/files", None, 404, "vector_store_id",
         NOT_FOUND, "batch-files-unknown-store"),
    *[case("GET", f"{FB}/<batch>/files?{query}", None, 400, query.split("=")[0], VALUE,
           f"batch-files-{query}") for query in ("limit=0", "limit=101", "order=up", "filter=running")],
]  # fmt: skip

SEARCH = "/vector_stores/<vs>/search"


def search_case(body: Any, param: str | None, code: Any, id: str, status: int = 400) -> Any:
    if isinstance(body, dict):
        body = {"query": "lease", **body}
    return case("POST", SEARCH, body, status, param, code, f"search-{id}")


def filters_case(filters: Any, param: str, code: Any, id: str) -> Any:
    return search_case({"filters": filters}, param, code, id)


def compound(*children: Any, op: str = "and") -> dict[str, Any]:
    return {"type": op, "filters": list(children)}


SEARCH_CASES = [
    search_case(b'{"query": "lease"', ROOT, "invalid_json", "malformed-json"),
    search_case(b'["lease"]', ROOT, TYPE, "json-array"),
    search_case({"query": None}, "query", MISSING, "no-query"),
    *[search_case({"query": query}, "query", VALUE, f"query-{name}") for name, query in
      (("number", 5), ("empty", ""), ("blank", "  "), ("empty-list", []), ("list-with-number", ["a", 5]))],
    *[search_case({"max_num_results": n}, "max_num_results", VALUE, f"max-results-{n}")
      for n in (0, 51, "10", True, 2.5)],
    search_case({"ranking_options": "fast"}, "ranking_options", TYPE, "ranking-string"),
    search_case({"ranking_options": []}, "ranking_options", TYPE, "ranking-empty-list"),
    search_case({"ranking_options": {"ranker": "best"}}, "ranking_options.ranker", VALUE, "ranker-unknown"),
    search_case({"ranking_options": {"ranker": ["auto"]}}, "ranking_options.ranker", VALUE, "ranker-list"),
    *[search_case({"ranking_options": {"score_threshold": t}}, "ranking_options.score_threshold", VALUE,
                  f"score-threshold-{t}") for t in (1.5, -0.1, "0.5", False)],
    search_case({"ranking_options": {"alpha": 2}}, "ranking_options.alpha", VALUE, "alpha-2"),
    search_case({"search_mode": "semantic"}, "search_mode", VALUE, "mode-unknown"),
    search_case({"rewrite_query": "yes"}, "rewrite_query", VALUE, "rewrite-query-string"),
    filters_case("region=eu", "filters", TYPE, "filters-string"),
    filters_case({"type": "like", "key": "region", "value": "eu"}, "filters.type", VALUE, "op-like"),
    filters_case({"key": "region", "value": "eu"}, "filters.type", VALUE, "op-missing"),
    filters_case({"type": ["eq"], "key": "region", "value": "eu"}, "filters.type", VALUE, "op-list"),
    filters_case({"type": "eq", "value": "eu"}, "filters.key", TYPE, "key-missing"),
    filters_case({"type": "eq", "key": 5, "value": "eu"}, "filters.key", TYPE, "key-number"),
    filters_case({"type": "eq", "key": "region"}, "filters.value", TYPE, "value-missing"),
    filters_case({"type": "eq", "key": "region", "value": {"a": 1}}, "filters.value", TYPE, "value-object"),
    filters_case({"type": "in", "key": "region", "value": "eu"}, "filters.value", TYPE, "in-string"),
    filters_case({"type": "nin", "key": "region", "value": [True]}, "filters.value", TYPE, "nin-bool"),
    filters_case({"type": "eq", "key": "n", "value": 2**64 - 1}, "filters.value", VALUE, "int-over-64-bits"),
    filters_case({"type": "in", "key": "n", "value": [1, 2**63]}, "filters.value", VALUE, "in-over-64-bits"),
    filters_case({"type": "and"}, "filters.filters", TYPE, "and-without-filters"),
    filters_case(compound(), "filters.filters", TYPE, "and-empty"),
    filters_case({"type": "or", "filters": LEAF}, "filters.filters", TYPE, "or-object"),
    filters_case(compound(LEAF, "eu"), "filters.filters[1]", TYPE, "nested-not-object"),
    filters_case(compound(LEAF, compound(LEAF, {**LEAF, "type": "like"}, op="or")),
                 "filters.filters[1].filters[1].type", VALUE, "nested-bad-op"),
    filters_case(compound(compound({**LEAF, "value": None}, op="or")), "filters.filters[0].filters[0].value",
                 TYPE, "nested-bad-value"),
    filters_case(compound(compound({"type": "in", "key": "n", "value": [2**64 - 1]})),
                 "filters.filters[0].filters[0].value", VALUE, "nested-beyond-64-bits"),
    filters_case(compound(*[{**LEAF, "value": str(i)} for i in range(501)], op="or"), "filters", VALUE,
                 "501-comparisons"),
    filters_case({"type": "in", "key": "n", "value": list(range(501))}, "filters", VALUE, "in-501-values"),
    search_case(nested(11), "filters" + ".filters[0]" * 10, VALUE, "nested-11-deep"),
    search_case(nested(60), "filters" + ".filters[0]" * 10, VALUE, "nested-60-deep"),
    search_case(nested(200), ROOT, "invalid_json", "nested-200-deep"),  # past any body (wire/nesting.py)
    case("POST", "/vector_stores/vs_nope/search", {"query": "lease"}, 404, "vector_store_id", NOT_FOUND,
         "search-unknown-store"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "param", "code"),
    [*STORE_CASES, *STORE_FILE_CASES, *BATCH_CASES, *SEARCH_CASES],
)
async def test_refused_and_nothing_changed(
    world: World, method: str, path: str, body: Any, status: int, param: str | None, code: Any
) -> None:
    before = await snapshot(world)
    error = assert_error(await send(world, method, path, body), status, param=param, code=code)
    if status == 404:  # OpenAI's wording names what was not found
        asked = {"vector_store_id": "vs_nope", "batch_id": "vsfb_nope"}.get(str(param))
        asked = asked or ("file-nope" if "file-nope" in path + str(body) else world.ids["<loose>"])
        assert asked in error["message"], error
    assert await snapshot(world) == before

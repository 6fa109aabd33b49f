"""Vector stores through the openai SDK: ingestion, filtered and hybrid search, lifecycle, restart.

The embedder is Parley's real local one (no network); files are a few sentences, one chunk each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest
from openai.types import StaticFileChunkingStrategyParam, VectorStore
from openai.types.vector_stores import file_batch_create_params

from parley.errors import NotFound
from parley.retrieval.library import FileSpec, VectorStoreLibrary
from parley.storage.library import FileListQuery
from tests.api.retrieval_support import DOCS, JAN, MAR, Parley, load_docs, running, search, wait_for_file


@pytest.fixture
async def parley(tmp_path: Path, harness_database: str | None) -> AsyncIterator[Parley]:
    async with running(tmp_path, {"database_url": harness_database}) as server:
        yield server


@pytest.fixture
async def loaded(parley: Parley) -> tuple[VectorStore, dict[str, str]]:
    return await load_docs(parley)


async def test_date_range_and_compound_filters_pick_exactly_the_right_files(
    parley: Parley, loaded: tuple[VectorStore, dict[str, str]]
) -> None:
    store, ids = loaded
    date_range = {
        "type": "and",
        "filters": [
            {"type": "gte", "key": "date", "value": JAN + 86400},
            {"type": "lte", "key": "date", "value": MAR},
        ],
    }
    found = await search(parley, store.id, "company documents", filters=date_range)
    assert set(found) == {ids["us-memo.txt"], ids["eu-runbook.md"]}
    compound = {
        "type": "and",
        "filters": [
            {"type": "eq", "key": "region", "value": "eu"},
            {
                "type": "or",
                "filters": [
                    {"type": "eq", "key": "category", "value": "finance"},
                    {"type": "eq", "key": "category", "value": "legal"},
                ],
            },
        ],
    }
    assert await search(parley, store.id, "company documents", filters=compound) == [ids["eu-report.txt"]]


@pytest.mark.parametrize("mode", ["keyword", "vector", "hybrid"])
async def test_each_search_mode_finds_the_relevant_file_first(
    parley: Parley, loaded: tuple[VectorStore, dict[str, str]], mode: str
) -> None:
    store, ids = loaded
    query = "Kubernetes Frankfurt datacenter" if mode == "keyword" else "upgrading container clusters"
    found = await search(parley, store.id, query, search_mode=mode)
    assert found[0] == ids["eu-runbook.md"]
    if mode == "keyword":
        assert found == [ids["eu-runbook.md"]]  # no other file shares a word with the query


async def test_search_page_shape_and_weighted_ranker(
    parley: Parley, loaded: tuple[VectorStore, dict[str, str]]
) -> None:
    store, ids = loaded
    assert parley.sdk is not None
    page = await parley.sdk.vector_stores.search(
        store.id, query=["solar", "revenue"], max_num_results=1, rewrite_query=True
    )
    [hit] = page.data
    assert (hit.file_id, hit.filename) == (ids["eu-report.txt"], "eu-report.txt")
    assert hit.attributes == {"region": "eu", "category": "finance", "date": JAN}
    assert 0 < hit.score <= 1
    assert hit.content[0].text.startswith("Quarterly revenue")
    raw = await parley.raw.post(
        f"/vector_stores/{store.id}/search",
        json={
            "query": "solar",
            "ranking_options": {"ranker": "weighted", "alpha": 0.2, "score_threshold": 0.1},
        },
    )
    body = raw.json()
    assert (body["object"], body["search_query"], body["has_more"], body["next_page"]) == (
        "vector_store.search_results.page",
        ["solar"],
        False,
        None,
    )
    assert body["data"][0]["file_id"] == ids["eu-report.txt"]
    assert all(item["score"] >= 0.1 for item in body["data"])


async def test_unparseable_files_fail_and_the_store_stays_searchable(
    parley: Parley, loaded: tuple[VectorStore, dict[str, str]]
) -> None:
    store, ids = loaded
    client = parley.sdk
    assert client is not None
    for name, data in (("broken.pdf", b"%PDF-1.7 this is not really a pdf"), ("empty.txt", b"")):
        file = await client.files.create(file=(name, data), purpose="assistants")
        await client.vector_stores.files.create(vector_store_id=store.id, file_id=file.id)
        failed = await wait_for_file(client, store.id, file.id)
        assert failed.status == "failed"
        assert failed.last_error is not None
        assert failed.last_error.code == "invalid_file", failed.last_error
    after = await client.vector_stores.retrieve(store.id)
    assert after.status == "completed"
    assert (after.file_counts.completed, after.file_counts.failed, after.file_counts.total) == (3, 2, 5)
    assert (await search(parley, store.id, "Texas warehouse lease"))[0] == ids["us-memo.txt"]
    failed_only = await client.vector_stores.files.list(vector_store_id=store.id, filter="failed")
    assert len(failed_only.data) == 2


async def test_errors_have_openai_shapes(parley: Parley, loaded: tuple[VectorStore, dict[str, str]]) -> None:
    store, _ = loaded
    client = parley.sdk
    assert client is not None
    with pytest.raises(openai.NotFoundError) as missing_file:
        await client.vector_stores.files.create(vector_store_id=store.id, file_id="file-nope")
    assert missing_file.value.body == {
        "message": "No such File object: file-nope",
        "type": "invalid_request_error",
        "param": "file_id",
        "code": "not_found",
    }
    with pytest.raises(openai.BadRequestError) as bad_filter:
        await client.vector_stores.search(
            store.id,
            query="x",
            filters={"type": "like", "key": "region", "value": "eu"},  # type: ignore[arg-type]
        )
    assert bad_filter.value.body["param"] == "filters.type"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        await client.vector_stores.retrieve("vs_nope")
    deleted = await client.vector_stores.delete(store.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (store.id, "vector_store.deleted", True)
    with pytest.raises(openai.NotFoundError) as gone:
        await client.vector_stores.search(store.id, query="anything")
    assert gone.value.body["message"] == f"No vector store found with id '{store.id}'."  # type: ignore[index]


async def test_deleting_a_file_removes_its_chunks_everywhere(
    parley: Parley, loaded: tuple[VectorStore, dict[str, str]]
) -> None:
    store, ids = loaded
    client = parley.sdk
    assert client is not None
    await client.files.delete(ids["eu-runbook.md"])
    assert ids["eu-runbook.md"] not in await search(
        parley, store.id, "Kubernetes Frankfurt", search_mode="vector"
    )
    listed = await client.vector_stores.files.list(vector_store_id=store.id)
    assert {f.id for f in listed.data} == {ids["eu-report.txt"], ids["us-memo.txt"]}
    assert (await client.vector_stores.retrieve(store.id)).file_counts.total == 2


async def test_counts_and_usage_stay_true_through_the_lifecycle(parley: Parley) -> None:
    client = parley.sdk
    assert client is not None
    store = await client.vector_stores.create(
        name="empty", expires_after={"anchor": "last_active_at", "days": 7}
    )
    assert (store.status, store.usage_bytes, store.file_counts.total) == ("completed", 0, 0)
    assert store.expires_at == store.last_active_at + 7 * 86400  # type: ignore[operator]
    file = await client.files.create(file=("a.txt", DOCS["us-memo.txt"][0]), purpose="assistants")
    await client.vector_stores.files.create(vector_store_id=store.id, file_id=file.id)
    done = await wait_for_file(client, store.id, file.id)
    assert done.chunking_strategy is not None
    assert done.chunking_strategy.type == "static"
    after = await client.vector_stores.retrieve(store.id)
    assert (after.file_counts.completed, after.file_counts.in_progress) == (1, 0)
    assert after.usage_bytes == done.usage_bytes > len(DOCS["us-memo.txt"][0])  # text + vectors
    updated = await client.vector_stores.files.update(
        file.id, vector_store_id=store.id, attributes={"k": True}
    )
    assert updated.attributes == {"k": True}
    content = await client.vector_stores.files.content(file.id, vector_store_id=store.id)
    assert [part.text for part in content.data] == [DOCS["us-memo.txt"][0].decode()]
    detached = await client.vector_stores.files.delete(file.id, vector_store_id=store.id)
    assert (detached.object, detached.deleted) == ("vector_store.file.deleted", True)
    final = await client.vector_stores.retrieve(store.id)
    assert (final.usage_bytes, final.file_counts.total) == (0, 0)
    assert (await client.files.retrieve(file.id)).id == file.id  # the File itself stays
    renamed = await client.vector_stores.update(store.id, name="renamed", metadata={"a": "b"})
    assert (renamed.name, renamed.metadata) == ("renamed", {"a": "b"})


async def test_batches_ingest_with_per_file_attributes(parley: Parley) -> None:
    client = parley.sdk
    assert client is not None
    store = await client.vector_stores.create(name="batch")
    files: list[file_batch_create_params.File] = []
    for name, (data, attributes) in DOCS.items():
        file = await client.files.create(file=(name, data), purpose="assistants")
        files.append({"file_id": file.id, "attributes": attributes})
    batch = await client.vector_stores.file_batches.create(vector_store_id=store.id, files=files)
    assert batch.object == "vector_store.files_batch"
    for spec in files:
        assert (await wait_for_file(client, store.id, spec["file_id"])).status == "completed"
    done = await client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
    assert (done.status, done.file_counts.completed, done.file_counts.total) == ("completed", 3, 3)
    listed = await client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id, limit=2)
    assert len(listed.data) == 2
    assert listed.has_more
    cancelled = await client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.status == "completed"  # nothing was left to cancel


async def test_store_list_paginates(parley: Parley) -> None:
    client = parley.sdk
    assert client is not None
    ids = [(await client.vector_stores.create(name=f"s{n}")).id for n in range(3)]
    first = await client.vector_stores.list(limit=2)
    assert [s.id for s in first.data] == [ids[2], ids[1]]
    assert first.has_more
    assert [s.id async for s in client.vector_stores.list(limit=1, order="asc")] == ids
    assert [s.id for s in (await client.vector_stores.list(before=ids[0], limit=5)).data] == [ids[2], ids[1]]


async def test_restart_keeps_stores_files_and_search_results(
    parley: Parley, loaded: tuple[VectorStore, dict[str, str]]
) -> None:
    store, ids = loaded
    before = await search(parley, store.id, "solar revenue", search_mode="hybrid")
    await parley.stop()
    client = parley.start()
    again = await client.vector_stores.retrieve(store.id)
    assert (again.name, again.file_counts.completed) == ("docs", 3)
    assert (await client.files.retrieve(ids["us-memo.txt"])).filename == "us-memo.txt"
    assert await search(parley, store.id, "solar revenue", search_mode="hybrid") == before


async def test_another_owner_cannot_see_or_touch_anything(
    parley: Parley, loaded: tuple[VectorStore, dict[str, str]]
) -> None:
    """Every lookup is scoped by owner; until auth exists the API has one, so ask the service directly."""
    store, ids = loaded
    assert parley.app is not None
    service: VectorStoreLibrary = parley.app.state.library
    file_id = ids["eu-report.txt"]
    with pytest.raises(NotFound):
        await service.search([store.id], "mallory", "solar")
    with pytest.raises(NotFound):
        await service.attach(store.id, "mallory", [FileSpec(file_id, {})])
    other = await service.create_store("mallory", name="mine", metadata={}, expires_after_days=None)
    with pytest.raises(NotFound, match="No such File object"):
        await service.attach(other.id, "mallory", [FileSpec(file_id, {})])
    assert await service.files.get(file_id, "mallory") is None
    assert not await service.delete_file(file_id, "mallory")
    assert not await service.delete_store(store.id, "mallory")
    assert await service.stores.list_files(store.id, "mallory", FileListQuery()) == ([], False)
    assert (await search(parley, store.id, "solar revenue"))[0] == file_id  # the owner's view is intact


async def test_create_with_file_ids_and_a_static_chunking_strategy(parley: Parley) -> None:
    client = parley.sdk
    assert client is not None
    with pytest.raises(openai.NotFoundError):
        await client.vector_stores.create(name="bad", file_ids=["file-nope"])
    assert (await client.vector_stores.list()).data == []  # nothing half-made
    file = await client.files.create(file=("memo.txt", DOCS["us-memo.txt"][0]), purpose="assistants")
    static: StaticFileChunkingStrategyParam = {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50}
    store = await client.vector_stores.create(
        name="s", file_ids=[file.id], chunking_strategy={"type": "static", "static": static}
    )
    assert store.file_counts.total == 1
    done = await wait_for_file(client, store.id, file.id)
    assert done.status == "completed"
    assert done.chunking_strategy is not None
    assert done.chunking_strategy.model_dump() == {"type": "static", "static": static}


async def test_ingestion_interrupted_by_a_restart_resumes(parley: Parley) -> None:
    client = parley.sdk
    assert client is not None
    store = await client.vector_stores.create(name="resume")
    file = await client.files.create(file=("memo.txt", DOCS["us-memo.txt"][0]), purpose="assistants")
    await client.vector_stores.files.create(vector_store_id=store.id, file_id=file.id)
    await parley.stop()  # most likely before the file was embedded
    client = parley.start()
    assert (await wait_for_file(client, store.id, file.id)).status == "completed"
    assert (await search(parley, store.id, "Texas warehouse"))[0] == file.id

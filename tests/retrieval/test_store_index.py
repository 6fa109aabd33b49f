"""The ``StoreIndex`` contract, on both sides of the seam: the embedded index in the data dir and
PostgreSQL's (pgvector, full-text search, filters in SQL). Each test runs on both, so a search
means the same wherever the chunks live."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from parley.retrieval import pgvector_index
from parley.retrieval.filters import parse_filter
from parley.retrieval.fusion import Fusion
from parley.retrieval.index import Chunk, StoreGone
from parley.retrieval.pg_filters import to_pg_sql
from parley.retrieval.pgvector_index import PgVectorIndex, PgVectorIndexes
from parley.retrieval.store_index import EmbeddedIndexes, IndexOpener, StoreIndex, StoreQuery
from parley.storage.postgres import PgDatabase
from tests.retrieval.test_index import DIM, clustered, file_chunks
from tests.support.postgres import fresh_schema


@dataclass
class Backend:
    opener: IndexOpener
    postgres: PgDatabase | None = None

    async def store(self, store_id: str = "vs_1", dimension: int = DIM) -> StoreIndex:
        """A store's index; over PostgreSQL, its row first (its chunks refer to it)."""
        if self.postgres is not None:
            await self.postgres.execute(
                "INSERT INTO vector_stores (id, owner, name, created_at, last_active_at, metadata,"
                " embedding_model, embedding_dimension) VALUES ($1, 'alice', '', $2, $2, '{}', 'm', $3)",
                store_id, int(time.time()), dimension,
            )  # fmt: skip
        return await self.opener.open(store_id, dimension)


@pytest.fixture(params=["embedded", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "embedded":
        yield Backend(EmbeddedIndexes(tmp_path))
        return
    async with fresh_schema(request.getfixturevalue("postgres_url")) as url:
        db = await PgDatabase.open(url)
        yield Backend(PgVectorIndexes(db), db)
        await db.aclose()


async def fill(index: StoreIndex, files: int, per_file: int, seed: int = 1) -> np.ndarray:
    vectors = clustered(files * per_file, seed)
    for f in range(files):
        await index.replace_file(
            f"f{f}", file_chunks(f, per_file), vectors[f * per_file : (f + 1) * per_file]
        )
    return vectors


def ids(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [hit.chunk.id for hit in hits]


def files_of(hits: list) -> set[str]:  # type: ignore[type-arg]
    return {hit.chunk.file_id for hit in hits}


async def test_each_mode_finds_a_chunk_by_its_own_vector_and_words(backend: Backend) -> None:
    index = await backend.store()
    vectors = await fill(index, files=20, per_file=10)
    by_vector = await index.search(StoreQuery(vectors[42], "", 5, mode="vector"))
    assert by_vector[0].chunk.id == "f4:2"
    assert by_vector[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in by_vector] == sorted((h.score for h in by_vector), reverse=True)
    by_words = await index.search(StoreQuery(None, "echoes", 50, mode="keyword"))  # stemmed to "echo"
    assert files_of(by_words) == {"f4", "f18"}
    assert await index.search(StoreQuery(None, "part AND NEAR( ' | !:*", 3, mode="keyword"))  # just words
    for fusion in (Fusion(), Fusion(ranker="weighted", alpha=0.5)):
        hybrid = await index.search(StoreQuery(vectors[42], "echo part 2", 5, fusion=fusion))
        assert hybrid[0].chunk.id == "f4:2"
        assert all(0.0 <= hit.score <= 1.0 for hit in [*by_vector, *by_words, *hybrid])
    assert await index.count() == 200
    chunks = await index.chunks_of("f3")
    assert [c.position for c in chunks] == list(range(10))
    assert chunks[2] == file_chunks(3, 10)[2]


async def test_replacing_a_file_never_doubles_it_and_deleting_it_empties_both_searches(
    backend: Backend,
) -> None:
    index = await backend.store()
    vectors = await fill(index, files=20, per_file=10)
    await index.replace_file("f4", file_chunks(4, 3), vectors[40:43])
    assert await index.count() == 193
    assert await index.delete_file("f4") == 3
    assert await index.delete_file("f4") == 0
    for row in range(40, 43):
        hits = await index.search(StoreQuery(vectors[row], "echo", 200))
        assert "f4" not in files_of(hits)
    assert files_of(await index.search(StoreQuery(None, "echo", 50, mode="keyword"))) == {"f18"}
    assert await index.chunks_of("f4") == []
    assert await index.count() == 190


async def test_new_attributes_change_what_filters_let_through_in_every_mode(backend: Backend) -> None:
    index = await backend.store()
    vectors = await fill(index, files=20, per_file=10)
    tagged = parse_filter({"type": "eq", "key": "tag", "value": True})
    assert await index.search(StoreQuery(vectors[0], "part", 10, tagged)) == []
    await index.update_attributes("f2", {"tag": True})
    for mode in ("vector", "keyword", "hybrid"):
        hits = await index.search(StoreQuery(vectors[0], "part", 50, tagged, mode=mode))
        assert files_of(hits) == {"f2"}, mode
    assert (await index.chunks_of("f2"))[0].attributes == {"tag": True}


async def test_a_restrictive_filter_still_returns_k_hits(backend: Backend) -> None:
    """On PostgreSQL the graph is walked on until enough chunks pass (iterative scan)."""
    index = await backend.store()
    vectors = await fill(index, files=150, per_file=20)  # 3000 chunks; group 3 holds 300 of them
    group = {"type": "eq", "key": "group", "value": 3}
    name = {"type": "lt", "key": "name", "value": "file5"}  # string order: file103 < file5 < file53
    flt = parse_filter({"type": "and", "filters": [group, name]})
    allowed = [f for f in range(150) if f % 10 == 3 and f"file{f}" < "file5"]  # 10 files: 200 chunks
    rows = np.concatenate([np.arange(f * 20, (f + 1) * 20) for f in allowed])
    for query in clustered(5, 11):
        hits = await index.search(StoreQuery(query, "", 50, flt, mode="vector"))
        assert len(hits) == 50
        assert files_of(hits) <= {f"f{f}" for f in allowed}
        exact = rows[np.argsort(-(vectors[rows] @ query))[:50]]
        assert len(set(ids(hits)) & {f"f{r // 20}:{r % 20}" for r in exact}) >= 45
    assert len(await index.search(StoreQuery(None, "part", 40, flt, mode="keyword"))) == 40


async def test_a_filter_passing_few_chunks_is_searched_exactly_and_one_passing_many_walks_the_graph(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pgvector_index, "EXACT_BELOW", 500)
    async with fresh_schema(postgres_url) as url:
        db = await PgDatabase.open(url)
        index = await Backend(PgVectorIndexes(db), db).store()
        assert isinstance(index, PgVectorIndex)
        vectors = await fill(index, files=150, per_file=20)  # group 3 holds 300 chunks, the rest 2,700
        for value, op in ((3, "eq"), (3, "ne")):
            flt = parse_filter({"type": op, "key": "group", "value": value})
            rows = np.array([r for r in range(3000) if ((r // 20) % 10 == value) == (op == "eq")])
            for query in clustered(3, 12):
                hits = await index.search(StoreQuery(query, "", 20, flt, mode="vector"))
                exact = [f"f{r // 20}:{r % 20}" for r in rows[np.argsort(-(vectors[rows] @ query))[:20]]]
                if op == "eq":  # 300 pass: ranked exactly
                    assert ids(hits) == exact
                else:  # 2,700 pass: the graph, walked until 20 of them are found
                    assert len(set(ids(hits)) & set(exact)) >= 18
            async with db.connection() as conn:
                params: list[object] = ["vs_1", clustered(1, 13)[0], 20]
                sql = index.vector_sql(to_pg_sql(flt, params))
                plan = [row[0] for row in await conn.fetch("EXPLAIN ANALYZE " + sql, *params)]
            ranked = next(line for line in plan if "Tid Scan on chunks" in line)
            gate = next(n for n, line in enumerate(plan) if "One-Time Filter: (NOT" in line)
            assert ("never executed" in ranked) == (op == "ne"), plan
            assert ("never executed" in plan[gate + 1]) == (op == "eq"), plan  # the walk
        await db.aclose()


async def test_stores_never_see_each_others_chunks(backend: Backend) -> None:
    first, second = await backend.store("vs_1"), await backend.store("vs_2")
    vectors = await fill(first, files=5, per_file=4)
    await second.replace_file("f0", file_chunks(0, 4, {"group": 0}), vectors[:4])
    hits = await second.search(StoreQuery(vectors[10], "part", 50))
    assert files_of(hits) == {"f0"}
    await second.delete_file("f0")
    assert await first.count() == 20
    assert await second.count() == 0


async def test_attributes_come_back_as_written_and_a_nul_is_no_trouble(backend: Backend) -> None:
    index = await backend.store()
    attributes: dict[str, str | float | bool] = {"zeta": "a\x00b", "alpha": 2**53 + 1, "k": 0.1}
    chunk = Chunk("f0:0", "f0", 0, "nul \x00 inside", attributes, 3)
    await index.replace_file("f0", [chunk], clustered(1, 5))
    [back] = await index.chunks_of("f0")
    assert back.attributes == attributes
    assert list(back.attributes) == ["zeta", "alpha", "k"]
    checks: list[dict[str, object]] = [
        {"type": "gt", "key": "alpha", "value": 2**53},  # exact, not rounded to a float
        {"type": "eq", "key": "k", "value": 0.1},
    ]
    if backend.postgres is not None:  # SQLite's json_extract cuts a string at its NUL
        checks.append({"type": "eq", "key": "zeta", "value": "a\x00b"})
    for raw in checks:
        assert await index.search(StoreQuery(None, "inside", 5, parse_filter(raw), mode="keyword")), raw


async def test_postgres_a_deleted_store_takes_its_chunks_and_takes_no_more(
    tmp_path: Path, postgres_url: str
) -> None:
    async with fresh_schema(postgres_url) as url:
        db = await PgDatabase.open(url)
        backend = Backend(PgVectorIndexes(db), db)
        index = await backend.store()
        vectors = await fill(index, files=2, per_file=3)
        await db.execute("DELETE FROM vector_stores WHERE id = 'vs_1'")
        assert await index.count() == 0
        with pytest.raises(StoreGone):
            await index.replace_file("f9", file_chunks(9, 3), vectors[:3])
        await db.aclose()


async def test_postgres_vector_searches_walk_the_dimensions_hnsw_index(postgres_url: str) -> None:
    async with fresh_schema(postgres_url) as url:
        db = await PgDatabase.open(url)
        index = await Backend(PgVectorIndexes(db), db).store()
        assert isinstance(index, PgVectorIndex)
        await fill(index, files=10, per_file=10)
        async with db.connection() as conn, conn.transaction():
            # 100 rows: reading them all is cheaper, and the planner knows it
            await conn.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
            query = clustered(1, 3)[0]
            plan = await conn.fetch("EXPLAIN " + index.vector_sql(None), "vs_1", query, 5)
            assert f"Index Scan using chunks_hnsw_{DIM}" in "\n".join(row[0] for row in plan)
        await db.aclose()


@pytest.mark.parametrize("dimension", [2100, 4100], ids=["halfvec-hnsw", "unindexed"])
async def test_postgres_wide_vectors_are_indexed_at_half_precision_or_searched_exactly(
    postgres_url: str, dimension: int
) -> None:
    async with fresh_schema(postgres_url) as url:
        db = await PgDatabase.open(url)
        index = await Backend(PgVectorIndexes(db), db).store(dimension=dimension)
        vectors = clustered(30, 2, dim=dimension)
        await index.replace_file("f0", [Chunk(f"f0:{i}", "f0", i, "w", {}, 1) for i in range(30)], vectors)
        hits = await index.search(StoreQuery(vectors[7], "", 3, mode="vector"))
        assert hits[0].chunk.id == "f0:7"
        assert hits[0].score == pytest.approx(1.0, abs=1e-3)
        await db.aclose()

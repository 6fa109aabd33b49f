"""The embedded ChunkIndex: add, search, delete, filters, persistence, compaction and threads.

Small stores are scanned exactly, so tests that must exercise the HNSW graph (tombstones in the
bitmap, filtered traversal, checkpoints) lower ``exact_below`` to force it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from parley.retrieval.embedded_index import EmbeddedIndex, open_index
from parley.retrieval.filters import parse_filter
from parley.retrieval.index import Chunk, ChunkIndex
from parley.retrieval.vectors import VectorParams

DIM = 32
GRAPH = VectorParams(exact_below=64, exact_fraction=0.0)  # always the graph, even when filtered
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
WORDS += ["hotel", "india", "juliet", "kilo", "lima", "mike", "november"]


def clustered(n: int, seed: int, dim: int = DIM, centers: int = 50) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    middle = np.random.default_rng(0).standard_normal((centers, dim)).astype(np.float32)
    points = middle[rng.integers(0, centers, n)] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32)
    return np.asarray(points / np.linalg.norm(points, axis=1, keepdims=True), dtype=np.float32)


def file_chunks(
    file_no: int, count: int, attributes: dict[str, str | float | bool] | None = None
) -> list[Chunk]:
    attrs: dict[str, str | float | bool] = (
        attributes if attributes is not None else {"group": file_no % 10, "name": f"file{file_no}"}
    )
    return [
        Chunk(
            f"f{file_no}:{i}",
            f"f{file_no}",
            i,
            f"{WORDS[file_no % len(WORDS)]} part {i} of {file_no}",
            attrs,
            5,
        )
        for i in range(count)
    ]


def fill(index: ChunkIndex, files: int, per_file: int, seed: int = 1) -> np.ndarray:
    vectors = clustered(files * per_file, seed)
    for f in range(files):
        index.add(file_chunks(f, per_file), vectors[f * per_file : (f + 1) * per_file])
    return vectors


def ids(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [hit.chunk.id for hit in hits]


def test_open_index_satisfies_the_protocol(tmp_path: Path) -> None:
    index: ChunkIndex = open_index(tmp_path, DIM)
    assert index.dimension == DIM
    assert index.count() == 0
    assert index.vector_search(clustered(1, 9)[0], 5, None) == []
    assert index.keyword_search("alpha", 5, None) == []
    index.close()


@pytest.mark.parametrize("params", [VectorParams(), GRAPH], ids=["exact", "graph"])
def test_add_then_search_finds_a_chunk_by_its_own_vector_and_words(
    tmp_path: Path, params: VectorParams
) -> None:
    index = open_index(tmp_path, DIM, params)
    vectors = fill(index, files=20, per_file=10)
    hits = index.vector_search(vectors[42], 5, None)
    assert hits[0].chunk.id == "f4:2"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert all(0.0 <= hit.score <= 1.0 for hit in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {hit.chunk.file_id for hit in index.keyword_search("echoes", 50, None)} == {
        "f4",
        "f18",
    }  # porter stem
    assert index.keyword_search("part AND NEAR(", 3, None)  # FTS5 syntax in user text is just words
    assert index.count() == 200
    assert [c.position for c in index.chunks_of("f3")] == list(range(10))
    assert index.file_ids() == {f"f{i}" for i in range(20)}
    index.close()


@pytest.mark.parametrize("params", [VectorParams(), GRAPH], ids=["exact", "graph"])
def test_deleted_chunks_never_come_back_from_either_search(tmp_path: Path, params: VectorParams) -> None:
    index = open_index(tmp_path, DIM, params)
    vectors = fill(index, files=20, per_file=10)
    assert index.delete_file("f4") == 10
    assert index.delete_file("f4") == 0
    for row in range(40, 50):
        assert not any(hit.chunk.file_id == "f4" for hit in index.vector_search(vectors[row], 200, None))
    assert {hit.chunk.file_id for hit in index.keyword_search("echo", 50, None)} == {"f18"}
    assert index.chunks_of("f4") == []
    assert "f4" not in index.file_ids()
    assert index.count() == 190
    index.close()


@pytest.mark.parametrize("params", [VectorParams(), GRAPH], ids=["exact", "graph"])
def test_a_reopened_index_answers_exactly_as_before(tmp_path: Path, params: VectorParams) -> None:
    index = open_index(tmp_path, DIM, params)
    vectors = fill(index, files=30, per_file=10)
    index.delete_file("f7")
    flt = parse_filter({"type": "eq", "key": "group", "value": 3})
    queries = clustered(5, 77)
    before = [(index.vector_search(q, 10, None), index.vector_search(q, 10, flt)) for q in queries]
    words = index.keyword_search("hotel part", 10, None)
    index.close()
    reopened = open_index(tmp_path, DIM, params)
    assert [
        (reopened.vector_search(q, 10, None), reopened.vector_search(q, 10, flt)) for q in queries
    ] == before
    assert reopened.keyword_search("hotel part", 10, None) == words
    assert reopened.count() == 290
    reopened.add(file_chunks(99, 3), vectors[:3])
    assert reopened.chunks_of("f99")[2].id == "f99:2"
    reopened.close()


def test_reopen_picks_up_rows_added_after_the_last_checkpoint(tmp_path: Path) -> None:
    params = VectorParams(exact_below=64, checkpoint_every=10**9)
    index = open_index(tmp_path, DIM, params)
    vectors = fill(index, files=10, per_file=20)
    index.close()  # close always checkpoints
    index = open_index(tmp_path, DIM, params)
    index.add(file_chunks(50, 20), clustered(20, 5))
    # Simulate a crash: no close(), so the graph file predates f50, and a torn write left half a row.
    with open(tmp_path / "vectors.0.f32", "ab") as handle:
        handle.write(b"\x00" * (2 * DIM))
    reopened = open_index(tmp_path, DIM, params)
    assert reopened.vector_search(clustered(20, 5)[3], 1, None)[0].chunk.id == "f50:3"
    assert reopened.vector_search(vectors[0], 1, None)[0].chunk.id == "f0:0"
    reopened.add(file_chunks(51, 1), clustered(1, 6))
    assert reopened.count() == 221
    reopened.close()


@pytest.mark.parametrize("params", [VectorParams(), GRAPH], ids=["exact", "graph"])
def test_a_restrictive_filter_still_returns_k_hits(tmp_path: Path, params: VectorParams) -> None:
    index = open_index(tmp_path, DIM, params)
    vectors = fill(index, files=150, per_file=20)  # 3000 chunks; group 3 holds 300 of them
    group = {"type": "eq", "key": "group", "value": 3}
    name = {"type": "lt", "key": "name", "value": "file5"}  # string order: file103 < file5 < file53
    flt = parse_filter({"type": "and", "filters": [group, name]})
    allowed = [f for f in range(150) if f % 10 == 3 and f"file{f}" < "file5"]  # 10 files: 200 chunks, 6.7%
    rows = np.concatenate([np.arange(f * 20, (f + 1) * 20) for f in allowed])
    for query in clustered(5, 11):
        hits = index.vector_search(query, 50, flt)
        assert len(hits) == 50
        assert {hit.chunk.file_id for hit in hits} <= {f"f{f}" for f in allowed}
        exact = rows[np.argsort(-(vectors[rows] @ query))[:50]]
        assert len(set(ids(hits)) & {f"f{r // 20}:{r % 20}" for r in exact}) >= 45
    assert len(index.keyword_search("part", 40, flt)) == 40
    index.close()


def test_update_attributes_changes_what_filters_let_through(tmp_path: Path) -> None:
    index = open_index(tmp_path, DIM, GRAPH)
    vectors = fill(index, files=20, per_file=10)
    flt = parse_filter({"type": "eq", "key": "tag", "value": True})
    assert index.vector_search(vectors[0], 10, flt) == []
    index.update_attributes("f2", {"tag": True})
    assert {hit.chunk.file_id for hit in index.vector_search(vectors[0], 50, flt)} == {"f2"}
    assert {hit.chunk.file_id for hit in index.keyword_search("part", 50, flt)} == {"f2"}
    assert index.chunks_of("f2")[0].attributes == {"tag": True}
    index.close()


def test_ann_recall_against_exact_search_on_clustered_vectors(tmp_path: Path) -> None:
    index = open_index(tmp_path, 64)
    assert VectorParams().exact_below < 5000  # so this really measures the graph
    vectors = clustered(5000, 3, dim=64, centers=100)
    chunks = [Chunk(f"c{i}", f"f{i // 50}", i % 50, "x", {}, 1) for i in range(5000)]
    index.add(chunks, vectors)
    queries = clustered(100, 4, dim=64, centers=100)
    found = index.vector_search_many(queries, 10, None)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean(
        [len(set(ids(f)) & {f"c{i}" for i in t}) / 10 for f, t in zip(found, truth, strict=True)]
    )
    assert recall >= 0.95
    index.close()


def test_compaction_drops_tombstones_and_keeps_answers(tmp_path: Path) -> None:
    index = open_index(tmp_path, DIM, GRAPH)
    vectors = fill(index, files=40, per_file=25)
    for f in range(0, 40, 3):
        index.delete_file(f"f{f}")  # 14 files = 350 rows: past 256 and 25%, so compaction runs
        index.vector_search(vectors[1], 1, None)  # searches go on while it does
    index.wait_for_compaction()
    assert sorted(p.name for p in tmp_path.glob("*.f32")) != ["vectors.0.f32"]
    survivors = [r for r in range(1000) if (r // 25) % 3]
    for row in survivors[::97]:
        assert index.vector_search(vectors[row], 1, None)[0].chunk.id == f"f{row // 25}:{row % 25}"
    index.close()
    reopened = open_index(tmp_path, DIM, GRAPH)
    assert reopened.count() == len(survivors)
    assert not any(int(h.chunk.file_id[1:]) % 3 == 0 for h in reopened.vector_search(vectors[0], 100, None))
    assert len(list(tmp_path.glob("*.f32"))) == 1
    reopened.close()


def test_bad_input_is_refused_and_leaves_the_index_unchanged(tmp_path: Path) -> None:
    index = open_index(tmp_path, DIM)
    fill(index, files=2, per_file=5)
    with pytest.raises(ValueError, match="shape"):
        index.add(file_chunks(5, 2), clustered(3, 1))
    with pytest.raises(ValueError, match="already indexed"):
        index.add(file_chunks(0, 2), clustered(2, 1))
    assert index.count() == 10
    assert len(index.keyword_search("part", 20, None)) == 10
    index.close()
    with pytest.raises(ValueError, match="dimension"):
        open_index(tmp_path, DIM + 1)


def test_searches_run_safely_while_another_thread_ingests(tmp_path: Path) -> None:
    index: EmbeddedIndex = open_index(tmp_path, DIM, VectorParams(exact_below=100))
    fill(index, files=5, per_file=20)
    failures: list[BaseException] = []
    done = threading.Event()

    def ingest() -> None:
        vectors = clustered(60 * 20, 8)
        for f in range(10, 70):
            index.add(file_chunks(f, 20), vectors[(f - 10) * 20 : (f - 9) * 20])
            if f % 7 == 0:
                index.delete_file(f"f{f - 3}")
        done.set()

    def search() -> None:
        queries = clustered(50, 9)
        try:
            while not done.is_set():
                for query in queries[:5]:
                    hits = index.vector_search(
                        query, 10, parse_filter({"type": "gte", "key": "group", "value": 0})
                    )
                    assert len(hits) == 10
                    index.keyword_search("part", 5, None)
        except BaseException as exc:
            failures.append(exc)
            raise

    threads = [threading.Thread(target=ingest), *(threading.Thread(target=search) for _ in range(2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    assert index.count() == 100 + 60 * 20 - 8 * 20
    index.close()

"""One index directory shared by several EmbeddedIndex instances, as worker processes share it.

Two instances in one process stand for two processes: each keeps its own graph, live mask and
filter cache, and the directory lock is an ``flock``, which excludes two open files in one
process as it does two processes. One test runs a real second process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np

from parley.retrieval.embedded_index import EmbeddedIndex, open_index
from parley.retrieval.filters import parse_filter
from tests.retrieval.test_index import DIM, GRAPH, clustered, file_chunks, ids


def pair(directory: Path) -> tuple[EmbeddedIndex, EmbeddedIndex]:
    return open_index(directory, DIM, GRAPH), open_index(directory, DIM, GRAPH)


def test_what_one_adds_the_other_finds(tmp_path: Path) -> None:
    a, b = pair(tmp_path)
    vectors = clustered(200, 1)
    assert b.count() == 0
    for f in range(10):
        a.add(file_chunks(f, 20), vectors[f * 20 : (f + 1) * 20])
    assert b.count() == 200
    for row in range(0, 200, 13):
        assert ids(b.vector_search(vectors[row], 1, None)) == [f"f{row // 20}:{row % 20}"]
    group = parse_filter({"type": "eq", "key": "group", "value": 4})
    assert {hit.chunk.file_id for hit in b.vector_search(vectors[0], 50, group)} == {"f4"}
    b.add(file_chunks(10, 20), clustered(20, 2))  # labels continue after a's rows, no collision
    assert a.vector_search(clustered(20, 2)[7], 1, None)[0].chunk.id == "f10:7"
    assert a.count() == b.count() == 220
    a.close()
    b.close()


def test_what_one_deletes_the_other_no_longer_returns(tmp_path: Path) -> None:
    a, b = pair(tmp_path)
    vectors = clustered(200, 1)
    for f in range(10):
        a.add(file_chunks(f, 20), vectors[f * 20 : (f + 1) * 20])
    group = parse_filter({"type": "eq", "key": "group", "value": 3})
    assert len(b.vector_search(vectors[60], 20, group)) == 20  # b caches this filter's selection
    a.delete_file("f3")
    assert b.vector_search(vectors[60], 20, group) == []
    assert "f3" not in {hit.chunk.file_id for hit in b.vector_search(vectors[60], 50, None)}
    assert b.count() == 180
    a.update_attributes("f5", {"group": 3})
    assert {hit.chunk.file_id for hit in b.vector_search(vectors[60], 50, group)} == {"f5"}
    a.close()
    b.close()


def test_a_compaction_by_one_is_followed_by_the_other(tmp_path: Path) -> None:
    a, b = pair(tmp_path)
    vectors = clustered(1000, 1)
    for f in range(40):
        a.add(file_chunks(f, 25), vectors[f * 25 : (f + 1) * 25])
    assert b.count() == 1000  # b now holds generation 0 open
    for f in range(0, 40, 3):
        a.delete_file(f"f{f}")  # 350 tombstones: a compacts
    a.wait_for_compaction()
    assert sorted(p.name for p in tmp_path.glob("*.f32")) == ["vectors.1.f32"]  # a removed gen 0
    survivors = [r for r in range(1000) if (r // 25) % 3]
    assert b.count() == len(survivors)
    for row in survivors[::37]:
        assert ids(b.vector_search(vectors[row], 1, None)) == [f"f{row // 25}:{row % 25}"]
    b.add(file_chunks(77, 5), clustered(5, 3))
    assert ids(a.vector_search(clustered(5, 3)[4], 1, None)) == ["f77:4"]
    b.close()
    a.close()
    assert sorted(p.name for p in tmp_path.glob("*.f32")) == ["vectors.1.f32"]


def test_a_reader_behind_two_compactions_reopens_at_the_current_one(tmp_path: Path) -> None:
    a, b = pair(tmp_path)
    vectors = clustered(1200, 1)
    for f in range(48):
        a.add(file_chunks(f, 25), vectors[f * 25 : (f + 1) * 25])
    assert b.count() == 1200
    for batch in (range(0, 48, 3), range(1, 48, 3)):
        for f in batch:
            a.delete_file(f"f{f}")
        a.wait_for_compaction()
    assert [p.name for p in tmp_path.glob("*.f32")] == ["vectors.2.f32"]
    assert b.count() == 400
    assert {int(h.chunk.file_id[1:]) % 3 for h in b.vector_search(vectors[50], 100, None)} == {2}
    a.close()
    b.close()


def test_two_writers_at_once_never_share_a_label(tmp_path: Path) -> None:
    a, b = pair(tmp_path)
    vectors = clustered(40 * 10, 5)
    failures: list[BaseException] = []

    def write(index: EmbeddedIndex, files: range) -> None:
        try:
            for f in files:
                index.add(file_chunks(f, 10), vectors[f * 10 : (f + 1) * 10])
        except BaseException as exc:
            failures.append(exc)
            raise

    threads = [
        threading.Thread(target=write, args=(a, range(0, 40, 2))),
        threading.Thread(target=write, args=(b, range(1, 40, 2))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert a.count() == b.count() == 400
    for index in (a, b):
        for row in range(400):
            assert ids(index.vector_search(vectors[row], 1, None)) == [f"f{row // 10}:{row % 10}"]
    a.close()
    b.close()
    assert (tmp_path / "vectors.0.f32").stat().st_size == 400 * DIM * 4  # one row per chunk


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from parley.retrieval.embedded_index import open_index
    from parley.retrieval.index import Chunk
    from parley.retrieval.vectors import VectorParams

    directory, vectors = Path(sys.argv[1]), np.load(sys.argv[2])
    index = open_index(directory, vectors.shape[1], VectorParams(exact_below=64, exact_fraction=0.0))
    for f in range(len(vectors) // 10):
        chunks = [Chunk(f"w{f}:{i}", f"w{f}", i, f"written {f} {i}", {"n": f}, 3) for i in range(10)]
        index.add(chunks, vectors[f * 10 : (f + 1) * 10])
        if f % 5 == 4:
            index.delete_file(f"w{f - 2}")
    index.close()
    """
)


def test_a_second_process_writes_while_this_one_searches(tmp_path: Path) -> None:
    vectors = clustered(600, 6)
    np.save(tmp_path / "vectors.npy", vectors)
    reader = open_index(tmp_path / "index", DIM, GRAPH)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "index"), str(tmp_path / "vectors.npy")]
    )
    seen_growth: set[int] = set()
    deadline = time.monotonic() + 120
    while writer.poll() is None and time.monotonic() < deadline:
        seen_growth.add(reader.count())
        for hit in reader.vector_search(vectors[0], 10, None):
            assert hit.chunk.id.startswith("w")
    assert writer.wait(timeout=max(deadline - time.monotonic(), 1)) == 0
    assert len(seen_growth) > 1  # it searched while the other process wrote
    deleted = {f - 2 for f in range(60) if f % 5 == 4}
    assert reader.count() == 10 * (60 - len(deleted))
    for row in range(0, 600, 7):
        hits = ids(reader.vector_search(vectors[row], 1, None))
        if row // 10 in deleted:
            assert hits != [f"w{row // 10}:{row % 10}"]
        else:
            assert hits == [f"w{row // 10}:{row % 10}"]
    reader.close()


def test_an_index_whose_store_another_process_deleted_still_closes(tmp_path: Path) -> None:
    a, b = pair(tmp_path / "store")
    vectors = clustered(100, 1)
    for f in range(10):  # enough for b to build a graph of its own, which close would checkpoint
        a.add(file_chunks(f, 10), vectors[f * 10 : (f + 1) * 10])
    assert b.count() == 100
    a.close()
    shutil.rmtree(tmp_path / "store")  # what IndexPool.drop does in the process deleting the store
    b.close()
    assert not (tmp_path / "store").exists()

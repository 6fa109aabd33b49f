"""The vector half of the embedded index: an append-only float32 file, tombstones and the search.

Row ``i`` of ``vectors.<generation>.f32`` is the vector with label ``i``. The file is the truth;
the HNSW graph (``graph.py``) is a derived, periodically checkpointed cache over it. Deleted
labels are tombstones in an in-memory ``live`` mask rebuilt from SQLite on open; once they pass
``compact_fraction`` of the rows the caller compacts into the next generation.

Search picks its strategy by how many vectors are eligible:

* few (a small store, or a filter keeping under ``exact_fraction`` of the rows): an exact scan
  over just those rows; it is exact and, at that size, faster than a filtered graph walk, which
  degrades when almost every node it visits is filtered out;
* otherwise the graph, with the filter as a bitmap inside traversal, fetching ``rerank * k``
  candidates that are re-scored exactly from the file (this repairs the 8-bit quantization).

Queries read the rows they need with ``os.preadv`` (one call per run of consecutive labels), not
through a long-lived memory map: the rows stay in the page cache (shared, reclaimable) instead of
piling up in this process's resident memory, and no page faults are paid per query.

Other processes may share the directory (see ``embedded_index``). So every read goes through the
file descriptor opened with the store, never the path: a compaction elsewhere may unlink this
generation's files, and the open descriptor keeps them readable until this process has moved on.
Only whole rows count (another process may be appending one); a partial row left by a crash is cut
off only by the holder of the directory lock, before it appends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from parley.retrieval.graph import TRAIN_SAMPLE, Bitmap, Graph, GraphParams, Labels, Mask, Matrix

RERANK_MIN = 32
ADD_BATCH = 65_536


@dataclass(frozen=True)
class VectorParams:
    graph: GraphParams = field(default_factory=GraphParams)
    rerank: int = 4  # graph candidates per wanted hit, re-scored exactly; 0 keeps quantized scores
    exact_below: int = 4096  # stores (or filtered subsets) this small are always scanned exactly
    exact_fraction: float = 0.03  # a filter keeping less than this share of rows is scanned exactly
    compact_fraction: float = 0.25  # compact once this share of rows are tombstones
    checkpoint_every: int = 10_000  # rows added to the graph since its last checkpoint


@dataclass(frozen=True)
class Selection:
    """The labels a search may return, in the two shapes the two strategies need."""

    labels: Labels  # sorted
    bitmap: Bitmap


def select(mask: Mask) -> Selection:
    return Selection(np.flatnonzero(mask).astype(np.int64), np.packbits(mask, bitorder="little"))


class VectorStore:
    def __init__(
        self, directory: Path, generation: int, dimension: int, params: VectorParams, create: bool = False
    ) -> None:
        """Raises FileNotFoundError when the generation's file is gone (a compaction replaced it)."""
        self.directory, self.generation, self.dimension, self.params = (
            directory,
            generation,
            dimension,
            params,
        )
        self.path = directory / f"vectors.{generation}.f32"
        self.graph_path = directory / f"hnsw.{generation}.faiss"
        self._fd = os.open(self.path, os.O_RDONLY | (os.O_CREAT if create else 0), 0o644)
        self.rows = self._whole_rows()
        self.live: Mask = np.zeros(self.rows, dtype=np.bool_)
        self.graph: Graph | None = None
        self._saved = 0
        self._everything: Selection | None = None

    def _whole_rows(self) -> int:
        return os.fstat(self._fd).st_size // (4 * self.dimension)

    def cut_partial_row(self) -> None:
        """A crash mid-append can leave a partial row; cut it before appending (directory lock held).
        Whole rows without a chunk are tombstones."""
        row_bytes = 4 * self.dimension
        size = os.fstat(self._fd).st_size
        if size % row_bytes:
            os.truncate(self.path, size - size % row_bytes)

    def open(self, live_labels: Labels) -> None:
        """Mark ``live_labels`` (from SQLite) alive and bring the graph up to date with the file."""
        if live_labels.size and int(live_labels.max()) >= self.rows:
            raise RuntimeError(
                f"{self.path} has {self.rows} rows but SQLite refers to label {live_labels.max()}"
            )
        self.live[live_labels] = True
        self.graph = Graph.load(self.graph_path, self.params.graph)
        if self.graph is not None and self.graph.ntotal > self.rows:
            self.graph = None  # a checkpoint newer than its file cannot happen; rebuild to be safe
        self._saved = self.graph.ntotal if self.graph is not None else 0
        self._sync_graph(checkpoint=False)

    def follow(self, live_labels: Labels | None) -> None:
        """Take in rows another process appended, and (given them) the labels live now."""
        rows = self._whole_rows()
        if rows > self.rows:
            self.live = np.concatenate([self.live, np.zeros(rows - self.rows, dtype=np.bool_)])
            self.rows = rows
        if live_labels is not None:
            self.live = np.zeros(self.rows, dtype=np.bool_)
            self.live[live_labels] = True
        self._everything = None
        self._sync_graph(checkpoint=False)

    @property
    def live_count(self) -> int:
        return int(np.count_nonzero(self.live))

    def rows_between(self, start: int, end: int) -> npt.NDArray[np.float32]:
        return read_rows(self._fd, np.arange(start, end, dtype=np.int64), self.dimension)

    def append(self, vectors: Matrix) -> Labels:
        """Write rows durably (fsync) before the SQLite commit that refers to them."""
        with open(self.path, "ab") as handle:
            handle.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        labels = np.arange(self.rows, self.rows + len(vectors), dtype=np.int64)
        self.rows += len(vectors)
        self.live = np.concatenate([self.live, np.zeros(len(vectors), dtype=np.bool_)])
        return labels

    def activate(self, labels: Labels) -> None:
        """The rows are committed in SQLite: make them searchable."""
        self.live[labels] = True
        self._everything = None
        self._sync_graph()

    def kill(self, labels: Labels) -> None:
        self.live[labels] = False
        self._everything = None

    def needs_compaction(self) -> bool:
        dead = self.rows - self.live_count
        return dead >= max(256, self.params.compact_fraction * self.rows)

    def _sync_graph(self, checkpoint: bool = True) -> None:
        """Build the graph once the store is worth it, and add rows it has not seen yet.

        Only a writer (holding the directory lock) checkpoints it."""
        if self.graph is None and self.live_count >= self.params.exact_below:
            sample = np.flatnonzero(self.live)[:TRAIN_SAMPLE].astype(np.int64)
            self.graph = Graph.create(read_rows(self._fd, sample, self.dimension), self.params.graph)
        if self.graph is None:
            return
        for start in range(self.graph.ntotal, self.rows, ADD_BATCH):
            self.graph.add(self.rows_between(start, min(start + ADD_BATCH, self.rows)))
        if checkpoint and self.graph.ntotal - self._saved >= self.params.checkpoint_every:
            self.checkpoint()

    def checkpoint(self) -> None:
        if self.graph is not None and self.graph.ntotal != self._saved:
            self.graph.save(self.graph_path)
            self._saved = self.graph.ntotal

    def compacted(self, generation: int) -> tuple[VectorStore, Labels]:
        """A new generation holding only live rows, and the old labels in their new order."""
        keep = np.flatnonzero(self.live).astype(np.int64)
        successor = VectorStore(self.directory, generation, self.dimension, self.params, create=True)
        os.truncate(successor.path, 0)  # what a compaction that failed may have left
        successor.rows = 0
        successor.live = np.zeros(0, dtype=np.bool_)
        for start in range(0, len(keep), ADD_BATCH):
            successor.append(read_rows(self._fd, keep[start : start + ADD_BATCH], self.dimension))
        successor.live[:] = True
        successor._sync_graph()
        successor.checkpoint()
        return successor, keep

    def close(self) -> None:
        os.close(self._fd)

    def remove_files(self) -> None:
        """Close and unlink (a process still reading them keeps them open until it moves on)."""
        self.close()
        self.path.unlink(missing_ok=True)
        self.graph_path.unlink(missing_ok=True)

    def everything(self) -> Selection:
        """Every live label: the selection for an unfiltered search (cached until the next write)."""
        if self._everything is None:
            self._everything = select(self.live)
        return self._everything

    def search(self, queries: Matrix, k: int, selection: Selection) -> list[tuple[Labels, Matrix]]:
        """Per query: labels and exact cosine scores of the top ``k`` rows among ``selection``."""
        eligible = len(selection.labels)
        if eligible == 0 or k <= 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in queries]
        small = eligible <= self.params.exact_below or eligible < self.params.exact_fraction * self.rows
        if self.graph is None or small:
            return exact_top(
                read_rows(self._fd, selection.labels, self.dimension), queries, k, selection.labels
            )
        fetch = max(k * self.params.rerank, RERANK_MIN) if self.params.rerank else k
        tombstones = eligible < self.graph.ntotal
        bitmap = selection.bitmap if tombstones else None
        scores, labels = self.graph.search(queries, fetch, bitmap, eligible / max(self.graph.ntotal, 1))
        if not self.params.rerank:
            return [(row[row >= 0][:k], s[row >= 0][:k]) for row, s in zip(labels, scores, strict=True)]
        return rerank(self._fd, queries, labels, k)


def remove_stale(directory: Path, generation: int) -> None:
    """Delete the files of every other generation and unfinished checkpoints (directory lock held).

    Safe beside a process still on an older generation: it reads through descriptors it holds."""
    keep = {f"vectors.{generation}.f32", f"hnsw.{generation}.faiss"}
    for stale in directory.glob("*.*"):
        if stale.suffix in (".f32", ".faiss", ".tmp") and stale.name not in keep:
            stale.unlink(missing_ok=True)


def top_k(scores: Matrix, labels: Labels, k: int) -> tuple[Labels, Matrix]:
    """The ``k`` best of one query's candidates, best first (ties by label for determinism)."""
    if len(scores) > k:
        keep = np.argpartition(-scores, k - 1)[:k]
        scores, labels = scores[keep], labels[keep]
    order = np.lexsort((labels, -scores))
    return labels[order], scores[order]


def read_rows(fd: int, labels: Labels, dimension: int) -> Matrix:
    """Rows ``labels`` (sorted, unique) of the vector file, one ``preadv`` per consecutive run."""
    out = np.empty((len(labels), dimension), dtype=np.float32)
    row_bytes = 4 * dimension
    buffer = out.data.cast("B")
    breaks = (np.flatnonzero(np.diff(labels) != 1) + 1).tolist()
    for start, end in zip([0, *breaks], [*breaks, len(labels)], strict=True):
        if end > start:
            size = os.preadv(
                fd, [buffer[start * row_bytes : end * row_bytes]], int(labels[start]) * row_bytes
            )
            if size != (end - start) * row_bytes:
                raise RuntimeError(f"short read from the vector file at label {labels[start]}")
    return out


def exact_top(rows: Matrix, queries: Matrix, k: int, labels: Labels) -> list[tuple[Labels, Matrix]]:
    """Brute force over ``rows`` (whose labels are ``labels``); ``rows @ q`` is a cheap matrix-vector pass."""
    results: list[tuple[Labels, Matrix]] = []
    for start in range(0, len(queries), 256):
        block = (rows @ queries[start : start + 256].T).T
        results.extend(top_k(scores, labels, k) for scores in block)
    return results


def rerank(fd: int, queries: Matrix, candidates: Labels, k: int) -> list[tuple[Labels, Matrix]]:
    """Re-score graph candidates (``-1`` = none) with the exact vectors and keep the top ``k``."""
    unique = np.unique(candidates[candidates >= 0])
    rows = read_rows(fd, unique, queries.shape[1])
    results: list[tuple[Labels, Matrix]] = []
    for query, row in zip(queries, candidates, strict=True):
        found = row[row >= 0]
        scores = rows[np.searchsorted(unique, found)] @ query
        results.append(top_k(scores, found, k))
    return results

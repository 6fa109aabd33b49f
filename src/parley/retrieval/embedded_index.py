"""The server-less ``ChunkIndex``: SQLite (chunks + FTS5) and a faiss HNSW graph in one directory.

``directory`` holds ``chunks.sqlite3`` (rows, keyword index, label map, current generation),
``vectors.<generation>.f32`` (the vectors, append-only) and ``hnsw.<generation>.faiss`` (the graph
checkpoint). Reopening reads the checkpoint and the label column instead of rebuilding anything.

Ordering makes a crash harmless: vectors are appended and fsynced inside the SQLite transaction
that inserts their chunks, so a committed chunk always has its vector; an uncommitted vector is
just a tombstone. A compaction writes the next generation's files first and switches to them in
the same transaction that renumbers the labels; files of any other generation are deleted on open.

Filters are evaluated in SQLite (``filters.to_sql``) to the set of allowed labels, which is cached
per filter until the next write, so repeated searches with one filter do not rescan the table.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from parley.retrieval.chunks import ChunkTable
from parley.retrieval.filters import Filter
from parley.retrieval.index import Attributes, Chunk, Hit, Vectors
from parley.retrieval.rwlock import RWLock
from parley.retrieval.vectors import Selection, VectorParams, VectorStore, select

FILTER_CACHE_SIZE = 32
log = logging.getLogger(__name__)


class EmbeddedIndex:
    def __init__(self, directory: Path, dimension: int, params: VectorParams) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.dimension = dimension
        self._lock = RWLock()
        self._table = ChunkTable(directory / "chunks.sqlite3", dimension)
        self._vectors = VectorStore(directory, self._table.generation(), dimension, params)
        self._vectors.open(self._table.labels())
        self._selections: OrderedDict[Filter, Selection] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._writers = threading.Lock()
        """One writer at a time; a compaction holds it while it builds, so writes wait, not searches."""
        self._compaction: threading.Thread | None = None

    # --- writes ---------------------------------------------------------------------------------

    def add(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        if vectors.ndim != 2 or vectors.shape != (len(chunks), self.dimension):
            raise ValueError(
                f"expected vectors of shape ({len(chunks)}, {self.dimension}), got {vectors.shape}"
            )
        if not chunks:
            return
        with self._writers, self._lock.write():
            labels = np.arange(self._vectors.rows, self._vectors.rows + len(chunks), dtype=np.int64)
            self._table.insert(chunks, labels, lambda: self._append_checked(vectors, labels))
            self._vectors.activate(labels)
            self._selections.clear()

    def _append_checked(self, vectors: Vectors, labels: np.ndarray) -> None:
        appended = self._vectors.append(vectors)
        assert np.array_equal(appended, labels), "labels were assigned under the write lock"

    def delete_file(self, file_id: str) -> int:
        with self._writers:
            with self._lock.write():
                labels = self._table.delete_file(file_id)
                self._vectors.kill(labels)
                self._selections.clear()
            compacting = self._compaction is not None and self._compaction.is_alive()
            if self._vectors.needs_compaction() and not compacting:
                self._compaction = threading.Thread(target=self._compact, name="parley-compact", daemon=True)
                self._compaction.start()
        return len(labels)

    def _compact(self) -> None:
        """Rewrite the live rows as the next generation, on its own thread: rebuilding the graph of
        a large store takes minutes, and searches go on meanwhile (only the swap excludes them);
        writes wait for it. A failure leaves the current generation in use, tombstones and all."""
        try:
            with self._writers:
                with self._lock.read():
                    successor, old_labels = self._vectors.compacted(self._vectors.generation + 1)
                with self._lock.write():
                    self._table.relabel(old_labels, successor.generation)
                    self._vectors.remove_files()
                    self._vectors = successor
                    self._selections.clear()
        except Exception:  # a thread's failure has nowhere else to go; the index stays usable
            log.exception("compacting the index in %s failed", self._vectors.directory)

    def wait_for_compaction(self) -> None:
        if self._compaction is not None:
            self._compaction.join()

    def update_attributes(self, file_id: str, attributes: Attributes) -> None:
        with self._writers, self._lock.write():
            self._table.update_attributes(file_id, json.dumps(attributes))
            self._selections.clear()

    # --- searches -------------------------------------------------------------------------------

    def vector_search(self, vector: Vectors, k: int, filter: Filter | None) -> list[Hit]:
        return self.vector_search_many(np.asarray(vector, dtype=np.float32).reshape(1, -1), k, filter)[0]

    def vector_search_many(self, vectors: Vectors, k: int, filter: Filter | None) -> list[list[Hit]]:
        """One search per row of ``vectors``; a batch lets faiss spread queries over its threads."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected query vectors of dimension {self.dimension}, got {vectors.shape}")
        with self._lock.read():
            found = self._vectors.search(vectors, k, self._selection(filter))
            chunks = self._table.by_labels({int(label) for labels, _ in found for label in labels})
        return [
            [
                Hit(chunks[int(label)], min(max(float(score), 0.0), 1.0))
                for label, score in zip(*pair, strict=True)
            ]
            for pair in found
        ]

    def _selection(self, filter: Filter | None) -> Selection:
        if filter is None:
            return self._vectors.everything()
        with self._cache_lock:
            selection = self._selections.get(filter)
        if selection is None:
            # Readers overlap, so racing searches may both compute it; they compute the same thing.
            mask = np.zeros(self._vectors.rows, dtype=np.bool_)
            mask[self._table.labels(filter)] = True
            selection = select(mask)
            with self._cache_lock:
                self._selections[filter] = selection
                while len(self._selections) > FILTER_CACHE_SIZE:
                    self._selections.popitem(last=False)
        return selection

    def keyword_search(self, text: str, k: int, filter: Filter | None) -> list[Hit]:
        with self._lock.read():
            return [Hit(chunk, score) for chunk, score in self._table.keyword(text, k, filter)]

    # --- reads ----------------------------------------------------------------------------------

    def chunks_of(self, file_id: str) -> list[Chunk]:
        with self._lock.read():
            return self._table.chunks_of(file_id)

    def file_ids(self) -> set[str]:
        with self._lock.read():
            return self._table.file_ids()

    def count(self) -> int:
        with self._lock.read():
            return self._vectors.live_count

    def close(self) -> None:
        """Checkpoint the graph so the next open does not re-add the rows since the last one."""
        self.wait_for_compaction()
        with self._lock.write():
            self._vectors.checkpoint()
            self._vectors.close()
            self._table.close()


def open_index(directory: Path, dimension: int, params: VectorParams | None = None) -> EmbeddedIndex:
    """Create, or reopen without rebuilding, the index persisted in ``directory``."""
    return EmbeddedIndex(directory, dimension, params or VectorParams())

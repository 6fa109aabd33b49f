"""The server-less ``ChunkIndex``: SQLite (chunks + FTS5) and a faiss HNSW graph in one directory.

``directory`` holds ``chunks.sqlite3`` (rows, keyword index, label map, current generation),
``vectors.<generation>.f32`` (the vectors, append-only) and ``hnsw.<generation>.faiss`` (the graph
checkpoint). Reopening reads the checkpoint and the label column instead of rebuilding anything.

Ordering makes a crash harmless: vectors are appended and fsynced inside the SQLite transaction
that inserts their chunks, so a committed chunk always has its vector; an uncommitted vector is
just a tombstone. A compaction writes the next generation's files first and switches to them in
the same transaction that renumbers the labels, then deletes the old generation's files.

Several processes (server workers, ``parley ingest``) may open one directory. Each keeps its own
graph and tombstone mask in memory, so:

* every write (add, delete, attributes, compaction, the checkpoint on close) holds the directory
  lock (``directory_lock``) and first catches up, so labels follow the file's true row count;
* every write transaction bumps ``meta.changes``; a vector search or count first compares it with
  the value this index last saw (one primary-key read) and, when it moved, catches up: a new
  generation is reopened, otherwise rows appended elsewhere join the graph and the live mask is
  read again. Keyword search, ``chunks_of`` and ``file_ids`` read SQLite only, so they are current;
* a search maps labels to chunks in a read transaction that checks the generation: if a
  compaction elsewhere renumbered the labels meanwhile, it catches up and searches again;
* the old generation's files are unlinked by the compacting process; a process still on them
  reads through descriptors it holds, and one that finds them gone while opening tries again.

Filters are evaluated in SQLite (``filters.to_sql``) to the set of allowed labels, which is cached
per filter until the next write, so repeated searches with one filter do not rescan the table.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from parley.retrieval.chunks import ChunkTable
from parley.retrieval.directory_lock import DirectoryLock
from parley.retrieval.filters import Filter
from parley.retrieval.index import Attributes, Chunk, Hit, Vectors
from parley.retrieval.rwlock import RWLock
from parley.retrieval.vectors import Selection, VectorParams, VectorStore, remove_stale, select

FILTER_CACHE_SIZE = 32
ATTEMPTS = 8
"""Tries at opening the current generation, or at a search, while compactions elsewhere replace it."""
log = logging.getLogger(__name__)


class EmbeddedIndex:
    def __init__(self, directory: Path, dimension: int, params: VectorParams) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.dimension, self.directory, self.params = dimension, directory, params
        self._lock = RWLock()
        self._owner = DirectoryLock(directory)
        try:
            self._table = ChunkTable(directory / "chunks.sqlite3", dimension)
            self._vectors, self._seen = self._open_current()
        except BaseException:
            self._owner.close()
            raise
        if self._owner.try_acquire():  # leftovers of a crash; never wait on a writer just to open
            try:
                remove_stale(directory, self._table.generation())
            finally:
                self._owner.release()
        self._selections: OrderedDict[Filter, Selection] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._writers = threading.Lock()
        """One writer thread at a time (then the directory lock makes it one across processes); a
        compaction holds both while it builds, so writes wait, not searches."""
        self._compaction: threading.Thread | None = None

    def _open_current(self) -> tuple[VectorStore, int]:
        """The vector store at the committed generation, and the change count it reflects."""
        for _ in range(ATTEMPTS):
            generation, changes, labels = self._table.snapshot()
            fresh = generation == 0  # the first generation's file is made on first use
            try:
                vectors = VectorStore(self.directory, generation, self.dimension, self.params, fresh)
            except FileNotFoundError:
                continue  # compacted away since the snapshot: read the new generation
            try:
                vectors.open(labels)
            except BaseException as exc:
                vectors.close()
                if isinstance(exc, FileNotFoundError):
                    continue
                raise
            return vectors, changes
        raise RuntimeError(f"the index in {self.directory} kept changing generation while being opened")

    # --- following other processes ----------------------------------------------------------------

    def _catch_up(self) -> None:
        """Bring this process's view up to what SQLite has committed (in-process write lock held).

        Reading every live label costs a scan of the label column, so it is paid only when another
        process (or index on this directory) has written since: never by a lone writer."""
        if self._table.changes() == self._seen:
            return
        generation, changes, labels = self._table.snapshot()
        if generation != self._vectors.generation:
            previous = self._vectors
            self._vectors, self._seen = self._open_current()
            previous.close()
        else:
            self._vectors.follow(labels)
            self._seen = changes
        self._selections.clear()

    def _current(self) -> None:
        """Before a read: catch up if another process (or index on this directory) wrote since."""
        if self._table.changes() != self._seen:
            with self._lock.write():
                self._catch_up()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """This thread and process alone write, from an up-to-date view: labels follow the file."""
        with self._writers, self._owner, self._lock.write():
            self._ready_to_write()
            yield

    def _ready_to_write(self) -> None:
        """Directory lock held: catch up, and take in rows a failed write elsewhere left behind."""
        self._catch_up()
        self._vectors.cut_partial_row()
        self._vectors.follow(None)

    # --- writes ---------------------------------------------------------------------------------

    def add(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        if vectors.ndim != 2 or vectors.shape != (len(chunks), self.dimension):
            raise ValueError(
                f"expected vectors of shape ({len(chunks)}, {self.dimension}), got {vectors.shape}"
            )
        if not chunks:
            return
        with self._writing():
            labels = np.arange(self._vectors.rows, self._vectors.rows + len(chunks), dtype=np.int64)
            self._seen = self._table.insert(chunks, labels, lambda: self._append_checked(vectors, labels))
            self._vectors.activate(labels)
            self._selections.clear()

    def _append_checked(self, vectors: Vectors, labels: np.ndarray) -> None:
        appended = self._vectors.append(vectors)
        assert np.array_equal(appended, labels), "labels were assigned under the write lock"

    def delete_file(self, file_id: str) -> int:
        with self._writing():
            labels, self._seen = self._table.delete_file(file_id)
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
        writes, here and in other processes, wait for it. Other processes follow the generation
        change on their next read. A failure leaves the current generation in use."""
        try:
            with self._writers, self._owner:
                with self._lock.write():
                    self._ready_to_write()
                if not self._vectors.needs_compaction():  # another process compacted already
                    return
                with self._lock.read():
                    successor, old_labels = self._vectors.compacted(self._vectors.generation + 1)
                with self._lock.write():
                    self._seen = self._table.relabel(old_labels, successor.generation)
                    self._vectors.remove_files()
                    self._vectors = successor
                    self._selections.clear()
        except Exception:  # a thread's failure has nowhere else to go; the index stays usable
            log.exception("compacting the index in %s failed", self.directory)

    def wait_for_compaction(self) -> None:
        if self._compaction is not None:
            self._compaction.join()

    def update_attributes(self, file_id: str, attributes: Attributes) -> None:
        with self._writing():
            self._seen = self._table.update_attributes(file_id, json.dumps(attributes))
            self._selections.clear()

    # --- searches -------------------------------------------------------------------------------

    def vector_search(self, vector: Vectors, k: int, filter: Filter | None) -> list[Hit]:
        return self.vector_search_many(np.asarray(vector, dtype=np.float32).reshape(1, -1), k, filter)[0]

    def vector_search_many(self, vectors: Vectors, k: int, filter: Filter | None) -> list[list[Hit]]:
        """One search per row of ``vectors``; a batch lets faiss spread queries over its threads."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected query vectors of dimension {self.dimension}, got {vectors.shape}")
        for _ in range(ATTEMPTS):
            self._current()
            with self._lock.read():
                found = self._vectors.search(vectors, k, self._selection(filter))
                wanted = {int(label) for labels, _ in found for label in labels}
                chunks = self._table.by_labels(wanted, self._vectors.generation)
            if chunks is not None:  # else a compaction elsewhere renumbered them: catch up, again
                return [
                    [
                        Hit(chunks[int(label)], min(max(float(score), 0.0), 1.0))
                        for label, score in zip(*pair, strict=True)
                        if int(label) in chunks  # deleted by another process since the catch-up
                    ]
                    for pair in found
                ]
        raise RuntimeError(f"the index in {self.directory} kept changing generation during a search")

    def _selection(self, filter: Filter | None) -> Selection:
        if filter is None:
            return self._vectors.everything()
        with self._cache_lock:
            selection = self._selections.get(filter)
        if selection is None:
            # Readers overlap, so racing searches may both compute it; they compute the same thing.
            # Another process may have committed rows this one has not taken in yet: they are left
            # out (the live mask), and the change they made clears this cache on the next read.
            rows = self._vectors.rows
            labels = self._table.labels(filter)
            mask = np.zeros(rows, dtype=np.bool_)
            mask[labels[labels < rows]] = True
            selection = select(mask & self._vectors.live)
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
        self._current()
        with self._lock.read():
            return self._vectors.live_count

    def close(self) -> None:
        """Checkpoint the graph so the next open does not re-add the rows since the last one
        (unless another process has compacted since, its checkpoint being the one that counts, or
        has deleted the store)."""
        self.wait_for_compaction()
        with self._writers, self._owner, self._lock.write():
            if self.directory.is_dir() and self._table.generation() == self._vectors.generation:
                self._vectors.follow(None)
                self._vectors.checkpoint()
            self._vectors.close()
            self._table.close()
        self._owner.close()


def open_index(directory: Path, dimension: int, params: VectorParams | None = None) -> EmbeddedIndex:
    """Create, or reopen without rebuilding, the index persisted in ``directory``."""
    return EmbeddedIndex(directory, dimension, params or VectorParams())

"""The faiss side of the embedded index: a quantized HNSW graph, its filters and its checkpoint file.

Why HNSW with 8-bit scalar quantization (``IndexHNSWSQ``, inner product on normalized vectors):
at 1M x 384 dims float32 storage alone is 1.5 GB, while 8-bit codes are 384 B a vector, leaving
room for the graph links inside an 800 MB budget. The quantization error is repaired by
re-scoring the top candidates exactly from the float32 vector file (see ``vectors.py``).

Why faiss and not usearch: faiss's ``SearchParametersHNSW(sel=IDSelectorBitmap)`` applies an
attribute filter inside graph traversal, so a filtered search still returns k hits instead of
k-minus-whatever-was-filtered-out. HNSW cannot remove nodes, so deletions are tombstones: a
deleted label is simply left out of the bitmap.

The graph is a cache derived from the vector file: it is checkpointed now and then (temp file,
then ``os.replace``) and, on reopen, any rows appended since the checkpoint are added again.
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt


# faiss's bundled stubs lag its SWIG API (no SearchParametersHNSW; enum constants typed as
# classes), so the module is used untyped and every value leaving this file is cast.
@functools.cache
def _faiss() -> Any:
    """faiss, imported on first use: a server with no vector store never loads it."""
    return importlib.import_module("faiss")


Matrix = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Bitmap = npt.NDArray[np.uint8]  # bit i (little-endian within each byte) allows label i
TRAIN_SAMPLE = 100_000


@dataclass(frozen=True)
class GraphParams:
    """HNSW knobs; the defaults are what benchmarks/bench_index.py measured as meeting the targets."""

    m: int = 32  # links per node (level 0 has 2*m): recall vs memory (8*m bytes a vector)
    ef_construction: int = 80  # build-time beam: graph quality vs build time
    ef_search: int = 128  # query-time beam when unfiltered
    max_filtered_ef: int = 512  # cap on the beam widened for filters (see Graph.search)


class Graph:
    """An HNSW graph whose node ids are vector-file row numbers (labels)."""

    def __init__(self, index: Any, params: GraphParams) -> None:
        self._index = index
        self.params = params

    @classmethod
    def create(cls, sample: Matrix, params: GraphParams) -> Graph:
        """An empty graph whose quantizer ranges are trained on ``sample`` (representative rows)."""
        dimension = sample.shape[1]
        index = _faiss().IndexHNSWSQ(
            dimension, _faiss().ScalarQuantizer.QT_8bit, params.m, _faiss().METRIC_INNER_PRODUCT
        )
        index.hnsw.efConstruction = params.ef_construction
        index.train(np.ascontiguousarray(sample[:TRAIN_SAMPLE]))
        return cls(index, params)

    @classmethod
    def load(cls, path: Path, params: GraphParams) -> Graph | None:
        """The checkpoint, or None if there is none. FileNotFoundError if it vanished while being
        read: a compaction in another process replaced this generation meanwhile."""
        if not path.exists():
            return None
        try:
            return cls(_faiss().read_index(str(path)), params)
        except RuntimeError:
            if path.exists():
                raise
            raise FileNotFoundError(path) from None

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def add(self, rows: Matrix) -> None:
        self._index.add(np.ascontiguousarray(rows, dtype=np.float32))

    def save(self, path: Path) -> None:
        """Checkpoint atomically: a crash leaves the previous checkpoint or the new one, never half,
        and a process opening it meanwhile reads the previous one whole."""
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        _faiss().write_index(self._index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def search(
        self, queries: Matrix, k: int, allowed: Bitmap | None, fraction: float
    ) -> tuple[Matrix, Labels]:
        """Top ``k`` (approximate scores, labels) per query among labels whose bit is set in ``allowed``.

        A filter prunes results, not the walk, so with a fraction ``f`` of nodes allowed the beam is
        widened by about ``1/sqrt(f)`` (capped) to keep finding ``k`` allowed neighbours; below
        a few percent the caller switches to an exact scan instead.
        """
        params = _faiss().SearchParametersHNSW()
        ef = max(self.params.ef_search, k)
        if allowed is not None:
            ef = min(max(int(ef / max(fraction, 1e-6) ** 0.5), ef), max(self.params.max_filtered_ef, k))
            selector = _faiss().IDSelectorBitmap(self.ntotal, _faiss().swig_ptr(allowed))
            params.sel = selector  # ``selector`` and ``allowed`` stay referenced until the search returns
        params.efSearch = ef
        scores, labels = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
        return cast(Matrix, scores), cast(Labels, labels)

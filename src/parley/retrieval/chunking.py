"""Split a document's text into overlapping token windows, as OpenAI's vector stores do.

A chunk is ``max_chunk_size_tokens`` o200k tokens and starts ``chunk_overlap_tokens``
before the previous one ended. Windows are cut on token boundaries and then
moved to the nearest word boundary (a token next to whitespace), so no word and
no UTF-8 character is cut in two; an end moves back (the chunk never grows past
its limit) and a start moves forward (the overlap never grows past its own).
Text without whitespace (CJK, base64) falls back to character boundaries.

Chunks are exact substrings of the document and ``token_count`` is the token
count of that text. The work is one tiktoken pass plus a count per chunk
(several million tokens/s): run it in a thread for large documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from parley.errors import InvalidRequest
from parley.retrieval.tokens import count_tokens, encode, token_byte_lengths

__all__ = ["ChunkingStrategy", "TextChunk", "chunk_text", "count_tokens", "parse_chunking_strategy"]

MIN_CHUNK_TOKENS = 100
MAX_CHUNK_TOKENS = 4096
_WHITESPACE = frozenset(b" \t\n\r\f\v")


@dataclass(frozen=True)
class TextChunk:
    text: str
    token_count: int


@dataclass(frozen=True)
class ChunkingStrategy:
    """OpenAI's chunking strategy; ``auto`` is the default 800/400 static strategy."""

    max_chunk_size_tokens: int = 800
    chunk_overlap_tokens: int = 400

    def wire(self) -> dict[str, Any]:
        """As OpenAI reports it on a vector store file: always ``static``, even when ``auto`` was asked."""
        static = {
            "max_chunk_size_tokens": self.max_chunk_size_tokens,
            "chunk_overlap_tokens": self.chunk_overlap_tokens,
        }
        return {"type": "static", "static": static}


def parse_chunking_strategy(raw: object, param: str = "chunking_strategy") -> ChunkingStrategy:
    """Validate a request's ``chunking_strategy`` with OpenAI's limits; None means ``auto``."""
    if raw is None:
        return ChunkingStrategy()
    if not isinstance(raw, dict):
        raise InvalidRequest(
            f"Invalid type for '{param}': expected an object.", param=param, code="invalid_type"
        )
    kind = raw.get("type")
    if kind == "auto":
        return ChunkingStrategy()
    if kind != "static":
        raise InvalidRequest(
            f"Invalid value for '{param}.type': expected 'auto' or 'static', got {kind!r}.",
            param=f"{param}.type",
            code="invalid_value",
        )
    static = raw.get("static")
    if not isinstance(static, dict):
        raise InvalidRequest(
            f"Missing required parameter: '{param}.static'.",
            param=f"{param}.static",
            code="missing_required_parameter",
        )
    size = _integer(static, "max_chunk_size_tokens", f"{param}.static", MIN_CHUNK_TOKENS, MAX_CHUNK_TOKENS)
    overlap = _integer(static, "chunk_overlap_tokens", f"{param}.static", 0, size // 2)
    return ChunkingStrategy(size, overlap)


def _integer(obj: dict[str, Any], key: str, parent: str, low: int, high: int) -> int:
    param = f"{parent}.{key}"
    if key not in obj:
        raise InvalidRequest(
            f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
        )
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(
            f"Invalid type for '{param}': expected an integer, but got {type(value).__name__} instead.",
            param=param,
            code="invalid_type",
        )
    if not low <= value <= high:
        why = (
            " (the overlap may not exceed half of max_chunk_size_tokens)" if key.startswith("chunk_") else ""
        )
        raise InvalidRequest(
            f"Invalid '{param}': expected a value between {low} and {high}{why}, but got {value} instead.",
            param=param,
            code="invalid_value",
        )
    return value


def chunk_text(text: str, strategy: ChunkingStrategy) -> list[TextChunk]:
    """Overlapping windows of ``strategy.max_chunk_size_tokens`` tokens; [] for blank text."""
    if not text.strip():
        return []
    data = text.encode()
    ids = np.asarray(encode(text), dtype=np.int64)
    # offsets[b] is the byte offset of token boundary b (0 .. len(ids)).
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(token_byte_lengths()[ids], out=offsets[1:])
    cuts = _Cuts(data, offsets, max(8, strategy.max_chunk_size_tokens // 8))
    size, overlap, last = strategy.max_chunk_size_tokens, strategy.chunk_overlap_tokens, len(ids)
    chunks: list[TextChunk] = []
    start = 0
    while True:
        end = last if start + size >= last else cuts.back(start + size, start)
        piece = data[offsets[start] : offsets[end]].decode(errors="replace")
        chunks.append(TextChunk(piece, count_tokens(piece)))
        if end == last:
            return chunks
        # A start that would not move forward (only below OpenAI's minimum size) drops the overlap.
        following = end if overlap == 0 else cuts.forward(end - overlap, end)
        start = following if following > start else end


class _Cuts:
    """Where a window may be cut: the nearest word boundary, else character boundary, within ``reach``."""

    def __init__(self, data: bytes, offsets: npt.NDArray[np.int64], reach: int) -> None:
        self._data = data
        self._offsets = offsets
        self._reach = reach

    def back(self, boundary: int, floor: int) -> int:
        candidates = range(boundary, max(floor + 1, boundary - self._reach) - 1, -1)
        return self._best(candidates, boundary)

    def forward(self, boundary: int, ceiling: int) -> int:
        candidates = range(boundary, min(ceiling, boundary + self._reach) + 1)
        return self._best(candidates, boundary)

    def _best(self, candidates: range, default: int) -> int:
        fallback = None
        for boundary in candidates:
            at = int(self._offsets[boundary])
            before, after = self._data[at - 1], self._data[at]
            if before in _WHITESPACE or after in _WHITESPACE:
                return boundary
            if fallback is None and after & 0xC0 != 0x80:  # not a UTF-8 continuation byte
                fallback = boundary
        return default if fallback is None else fallback

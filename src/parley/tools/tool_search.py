"""Hosted ``tool_search``: BM25 over the names and descriptions of deferred tools.

Scoring comes from ``bm25s`` rather than a hand-rolled formula; a tool's name
is split on ``_``/``-``/``.`` and camel case so ``send_email`` matches "email".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

_WORD_BREAKS = re.compile(r"[_\-.:]+|(?<=[a-z])(?=[A-Z])")


class Searchable(Protocol):
    name: str
    description: str | None


def _document(tool: Searchable, namespace: str | None) -> str:
    words = _WORD_BREAKS.sub(" ", tool.name)
    return " ".join(filter(None, [namespace or "", words, tool.name, tool.description or ""]))


def search_tools(
    query: str, candidates: Sequence[tuple[str | None, Searchable]], limit: int = 5
) -> list[tuple[str | None, Any]]:
    """The candidates (namespace, tool) that match ``query``, best first; none when nothing matches."""
    if not candidates or not query.strip():
        return []
    import bm25s  # numpy comes with it: loaded on first search, not at start-up

    corpus = [_document(tool, namespace) for namespace, tool in candidates]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
    k = min(limit, len(candidates))
    indices, scores = retriever.retrieve(tokens, k=k, show_progress=False)
    return [candidates[int(i)] for i, score in zip(indices[0], scores[0], strict=True) if score > 0]

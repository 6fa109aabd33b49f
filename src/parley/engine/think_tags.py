"""Reasoning that a provider streams inline, as ``<think>...</think>`` at the start of the content.

Models such as DeepSeek-R1 and Qwen3, served without a reasoning parser, put
their reasoning in the content itself. Split it back out, tag by tag as the
deltas arrive (a tag may be cut across chunks), so it becomes a reasoning item
rather than part of the answer. Only a block that opens the content counts.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["reasoning", "content"]
OPEN, CLOSE = "<think>", "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that could be the start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    def __init__(self) -> None:
        self._state: Literal["start", "thinking", "answer"] = "start"
        self._buffer = ""
        self._after_block = False  # the newlines that follow </think> belong to neither part

    def feed(self, text: str) -> list[tuple[Kind, str]]:
        if self._state == "answer":
            if self._after_block:
                text = text.lstrip("\n")
                self._after_block = not text
            return [("content", text)] if text else []
        self._buffer += text
        out: list[tuple[Kind, str]] = []
        if self._state == "start":
            head = self._buffer.lstrip()
            if OPEN.startswith(head):
                return out  # still could be the opening tag
            if not head.startswith(OPEN):
                self._state = "answer"
                return self._take("content")
            self._state, self._buffer = "thinking", head[len(OPEN) :]
        end = self._buffer.find(CLOSE)
        if end < 0:
            keep = _partial_suffix(self._buffer, CLOSE)
            thought, self._buffer = (
                self._buffer[: len(self._buffer) - keep],
                self._buffer[len(self._buffer) - keep :],
            )
            return [("reasoning", thought)] if thought else []
        thought, rest = self._buffer[:end], self._buffer[end + len(CLOSE) :].lstrip("\n")
        self._state, self._buffer, self._after_block = "answer", "", not rest
        parts: list[tuple[Kind, str]] = [("reasoning", thought)] if thought else []
        return [*parts, ("content", rest)] if rest else parts

    def flush(self) -> list[tuple[Kind, str]]:
        """What is still held back when the stream ends (an unclosed block is reasoning)."""
        return self._take("reasoning" if self._state == "thinking" else "content")

    def _take(self, kind: Kind) -> list[tuple[Kind, str]]:
        text, self._buffer = self._buffer, ""
        return [(kind, text)] if text else []

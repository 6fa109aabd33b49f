"""Inline <think> reasoning split out of streamed content, however the chunks fall."""

from __future__ import annotations

import pytest

from parley.engine.think_tags import ThinkSplitter


def split(*pieces: str) -> tuple[str, str]:
    splitter = ThinkSplitter()
    parts = [part for piece in pieces for part in splitter.feed(piece)] + splitter.flush()
    reasoning = "".join(text for kind, text in parts if kind == "reasoning")
    content = "".join(text for kind, text in parts if kind == "content")
    return reasoning, content


TEXT = "<think>Rings: Saturn.</think>\n\nSaturn."


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 100])
def test_any_chunking_gives_the_same_split(size: int) -> None:
    pieces = [TEXT[i : i + size] for i in range(0, len(TEXT), size)]
    assert split(*pieces) == ("Rings: Saturn.", "Saturn.")


def test_content_without_a_leading_block_is_untouched() -> None:
    assert split("Saturn ", "<think>is</think> ringed.") == ("", "Saturn <think>is</think> ringed.")
    assert split("<th", "ree rings") == ("", "<three rings")


def test_an_unclosed_block_is_all_reasoning() -> None:
    assert split("  <think>still thinking", " when cut off") == ("still thinking when cut off", "")

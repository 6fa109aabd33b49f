"""Citation markers: removed from the visible text however the stream splits them, cited only for
files the search returned."""

from __future__ import annotations

from typing import Any

import pytest

from parley.tools.citations import AnnotatorChain, MarkerAnnotator, chain, file_resolver

FILES = {"file-151637398237": "eu_marketing_q1.txt", "file-151637398235": "us_marketing_q1.txt"}


def run(text: str, splits: int | None = None) -> tuple[str, list[tuple[int, str]]]:
    """Feed ``text`` in pieces of ``splits`` characters (whole when None); return the visible text
    and (index, file_id) of each citation."""
    annotator = MarkerAnnotator(file_resolver(FILES))
    step = splits or len(text) or 1
    pieces: list[Any] = []
    for start in range(0, len(text), step):
        pieces += annotator.feed(text[start : start + step])
    pieces += annotator.flush()
    visible, cited = "", []
    for piece in pieces:
        if isinstance(piece, str):
            visible += piece
        else:
            cited.append((len(visible), piece["file_id"]))
            assert piece["filename"] == FILES[piece["file_id"]]
    return visible, cited


CASES = [
    pytest.param(
        "Strong growth in the EU <|file-151637398237|>. Revenue rose 15% <|file-151637398235|>.",
        "Strong growth in the EU. Revenue rose 15%.",
        [(23, "file-151637398237"), (41, "file-151637398235")],
        id="seed-format",
    ),
    pytest.param("Growth <|file-151637398237>.", "Growth.", [(6, "file-151637398237")], id="missing-pipe"),
    pytest.param("Growth 【file-151637398237】.", "Growth.", [(6, "file-151637398237")], id="lenticular"),
    pytest.param("Growth 【4:0†file-151637398237】.", "Growth.", [(6, "file-151637398237")], id="dagger"),
    pytest.param("Growth [file-151637398237].", "Growth.", [(6, "file-151637398237")], id="square"),
    pytest.param("Growth <|151637398237|>.", "Growth.", [(6, "file-151637398237")], id="no-prefix"),
    pytest.param("Growth <|FILE-151637398237|>.", "Growth.", [(6, "file-151637398237")], id="case"),
    pytest.param("Growth <|file-99999|>.", "Growth.", [], id="unknown-id-dropped-not-cited"),
    pytest.param("Growth <|file-1516373982|>.", "Growth.", [], id="ambiguous-prefix-not-cited"),
    pytest.param("a < b and c > d", "a < b and c > d", [], id="comparison-signs"),
    pytest.param("see [the docs](https://x.org) now", "see [the docs](https://x.org) now", [], id="md-link"),
    pytest.param("ends with <|file-1516", "ends with <|file-1516", [], id="unfinished-marker-kept"),
    pytest.param("trailing space ", "trailing space ", [], id="trailing-space-kept"),
    pytest.param("", "", [], id="empty"),
]


@pytest.mark.parametrize(("text", "visible", "cited"), CASES)
@pytest.mark.parametrize("splits", [None, 1, 2, 3, 7])
def test_markers_become_citations_however_the_stream_is_split(
    text: str, visible: str, cited: list[tuple[int, str]], splits: int | None
) -> None:
    assert run(text, splits) == (visible, cited)


def test_text_is_held_back_only_while_it_may_be_a_marker() -> None:
    annotator = MarkerAnnotator(file_resolver(FILES))
    assert annotator.feed("Hello <") == ["Hello"]
    assert annotator.feed("|file-1516") == []
    assert annotator.feed("37398237|> world") == [
        {"type": "file_citation", "file_id": "file-151637398237", "filename": "eu_marketing_q1.txt"},
        " world",
    ]


class AtSigns:
    """A second kind of annotator: every ``@`` becomes an annotation; holds a trailing ``@@``."""

    def __init__(self) -> None:
        self.held = ""

    def feed(self, text: str) -> list[Any]:
        text, self.held = self.held + text, ""
        if text.endswith("@@"):
            text, self.held = text[:-2], "@@"
        out: list[Any] = []
        for part in text.split("@"):
            out += [part, {"type": "at"}]
        return [p for p in out[:-1] if p != ""]

    def flush(self) -> list[Any]:
        held, self.held = self.held, ""
        return [held] if held else []


def test_a_chain_passes_visible_text_through_each_annotator_in_order() -> None:
    files = MarkerAnnotator(file_resolver({"file-aaaaaaaa": "a.txt"}))
    both = chain([files, AtSigns()])
    assert isinstance(both, AnnotatorChain)
    pieces = both.feed("x <|file-aaaaaaaa|> y@z <|file-aa") + both.feed("aaaaaa|> w @@") + both.flush()
    kinds = [p if isinstance(p, str) else p.get("file_id", "@") for p in pieces]
    assert kinds == ["x", "file-aaaaaaaa", " y", "@", "z", "file-aaaaaaaa", " w ", "@@"]
    assert chain([]) is None
    assert chain([files]) is files

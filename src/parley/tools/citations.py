"""Citation markers in streamed text -> annotations, with the markers gone from what is shown.

A model told to cite search results as ``<|file-id|>`` writes the markers into
its answer, and small models write them slightly wrong: ``<|file-abc|>``,
``【file-abc】``, ``【4:0†file-abc】``, ``[file-abc]``, an id without its
``file-`` prefix, or in another case. ``MarkerAnnotator`` reads the answer as
it streams and hands back the visible text with every marker removed (with the
space before it) and, where a marker names a file the search returned, an
annotation at that point. A marker naming anything else is dropped without a
citation: Parley never invents one.

Text that may still turn into a marker is held back until it is decided, so a
delta never shows half a marker; at most ``_MAX_MARKER`` characters are held.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from parley.tools.base import Json, TextAnnotator

Piece = str | Json
"""Visible text, or an annotation to place where the text so far ends."""

_MAX_MARKER = 120
_MARKER = re.compile(
    r"<\|\s*(?P<pipe>[^|<>\s]{1,100})\s*\|?>"  # <|file-abc|>, and <|file-abc> missing its pipe
    r"|【(?P<lenticular>[^】\n]{1,100})】"  # 【file-abc】, 【4:0†file-abc】
    r"|\[(?P<square>file[-_][A-Za-z0-9_-]{1,100})\]"  # [file-abc]
)
_OPENERS = ("<|", "【", "[file-", "[file_")


def _could_open(text: str) -> bool:
    """``text`` (starting at an opener character) may still become a marker."""
    if len(text) > _MAX_MARKER or "\n" in text:
        return False
    if any(opener.startswith(text) for opener in _OPENERS):
        return True
    if text.startswith("<|"):
        return "|>" not in text and ">" not in text[2:]
    if text.startswith("【"):
        return "】" not in text
    if text.startswith(("[file-", "[file_")):
        return re.fullmatch(r"\[file[-_][A-Za-z0-9_-]*", text) is not None
    return False


class MarkerAnnotator:
    def __init__(self, resolve: Callable[[str], Json | None]) -> None:
        """``resolve`` maps what a marker names to its annotation (without ``index``), or None."""
        self._resolve = resolve
        self._held = ""

    def feed(self, text: str) -> list[Piece]:
        self._held += text
        out: list[Piece] = []
        while self._held:
            start = _first_opener(self._held)
            if start is None:
                visible, self._held = _split_trailing_space(self._held)
                _emit(out, visible)
                return out
            match = _MARKER.match(self._held, start)
            if match is not None:
                _emit(out, self._held[:start].rstrip(" "))
                annotation = self._resolve(_marker_id(match))
                if annotation is not None:
                    out.append(annotation)
                self._held = self._held[match.end() :]
            elif _could_open(self._held[start:]):
                visible, pending = _split_trailing_space(self._held[:start])
                _emit(out, visible)
                self._held = pending + self._held[start:]
                return out
            else:
                _emit(out, self._held[: start + 1])
                self._held = self._held[start + 1 :]
        return out

    def flush(self) -> list[Piece]:
        """The end of the text: whatever was held back was not a marker after all."""
        held, self._held = self._held, ""
        return [held] if held else []


def _first_opener(text: str) -> int | None:
    positions = [i for i in (text.find("<"), text.find("【"), text.find("[")) if i >= 0]
    return min(positions) if positions else None


def _split_trailing_space(text: str) -> tuple[str, str]:
    """Spaces at the end are held back: if a marker follows, they go with it."""
    stripped = text.rstrip(" ")
    return stripped, text[len(stripped) :]


def _emit(out: list[Piece], text: str) -> None:
    if text:
        out.append(text)


def _marker_id(match: re.Match[str]) -> str:
    raw = match.group("pipe") or match.group("square") or match.group("lenticular")
    return raw.rsplit("†", 1)[-1].strip()


def file_resolver(files: Mapping[str, str]) -> Callable[[str], Json | None]:
    """Resolve a marker to a ``file_citation`` of one of ``files`` (id -> filename), leniently:
    exact id, id without its ``file-`` prefix, any case, or an unambiguous prefix of 8+ characters."""
    by_key = {_key(file_id): file_id for file_id in files}

    def resolve(name: str) -> Json | None:
        key = _key(name)
        file_id = by_key.get(key)
        if file_id is None and len(key) >= 8:
            candidates = [fid for k, fid in by_key.items() if k.startswith(key)]
            file_id = candidates[0] if len(candidates) == 1 else None
        if file_id is None:
            return None
        return {"type": "file_citation", "file_id": file_id, "filename": files[file_id]}

    return resolve


def _key(name: str) -> str:
    name = name.strip().lower()
    for prefix in ("file-", "file_"):
        name = name.removeprefix(prefix)
    return name


class AnnotatorChain:
    """Several annotators over one text: each reads the visible text the one before it left."""

    def __init__(self, annotators: Sequence[TextAnnotator]) -> None:
        self._annotators = list(annotators)

    def feed(self, text: str) -> list[Piece]:
        return self._through(0, [text])

    def flush(self) -> list[Piece]:
        """Each annotator's held text goes on through the ones after it, in order."""
        pieces: list[Piece] = []
        for index, annotator in enumerate(self._annotators):
            pieces.extend(self._through(index + 1, annotator.flush()))
        return pieces

    def _through(self, start: int, pieces: list[Piece]) -> list[Piece]:
        for annotator in self._annotators[start:]:
            fed: list[Piece] = []
            for piece in pieces:
                fed.extend(annotator.feed(piece) if isinstance(piece, str) else [piece])
            pieces = fed
        return pieces


def chain(annotators: Sequence[TextAnnotator]) -> TextAnnotator | None:
    """One annotator for all of them, or None when there is none."""
    if not annotators:
        return None
    return annotators[0] if len(annotators) == 1 else AnnotatorChain(annotators)

"""Markdown links in the answer -> ``url_citation`` annotations, the text left as the model wrote it.

A model told to cite web results as markdown links writes ``([example.org](https://example.org/page))``.
``LinkAnnotator`` reads the answer as it streams and, for every link whose URL a search in this
turn returned, adds a ``url_citation`` spanning the link (``[`` to ``)``, in characters of the
answer's text) with the title of that result. A link to any other URL stays plain text: Parley
never invents a citation. Text is passed on at once; only the start of a link that may still be
completing is remembered (at most ``_MAX_LINK`` characters).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from parley.tools.base import Json

Piece = str | Json

_MAX_LINK = 2000
_LINK = re.compile(r"\[(?P<label>[^\[\]\n]{0,500})\]\((?P<url>https?://[^\s()<>]{1,1500})\)")


def _key(url: str) -> str:
    """URLs compare without a trailing slash or fragment."""
    return url.split("#", 1)[0].rstrip("/")


class LinkAnnotator:
    def __init__(self, titles: Mapping[str, str]) -> None:
        """``titles``: the URL of every result the searches returned -> its title."""
        self._titles = {_key(url): (url, title) for url, title in titles.items()}
        self._tail = ""
        self._offset = 0
        """Characters of the text before ``_tail``."""

    def feed(self, text: str) -> list[Piece]:
        self._tail += text
        out: list[Piece] = [text] if text else []
        consumed = 0
        for match in _LINK.finditer(self._tail):
            annotation = self._citation(match)
            if annotation is not None:
                out.append(annotation)
            consumed = match.end()
        start = self._tail.rfind("[", consumed)
        keep = start if start >= 0 and len(self._tail) - start <= _MAX_LINK else len(self._tail)
        self._offset += keep
        self._tail = self._tail[keep:]
        return out

    def flush(self) -> list[Piece]:
        self._offset += len(self._tail)
        self._tail = ""
        return []

    def _citation(self, match: re.Match[str]) -> Json | None:
        found = self._titles.get(_key(match.group("url")))
        if found is None:
            return None
        return {
            "type": "url_citation",
            "url": found[0],
            "title": found[1],
            "start_index": self._offset + match.start(),
            "end_index": self._offset + match.end(),
        }

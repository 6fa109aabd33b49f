"""Turn an outbound request into the stable identity of a recording.

Replay only works if the same logical call maps to the same key on every run,
from every machine. Two things vary between runs of the same conversation:
where the upstream lives (host, scheme, port) and the ids Parley generates
(``fc_…``, ``resp_…``, ``file-…`` carry 48 random hex digits). So the normalized
request keeps only the method, the path (plus a sorted query string) and the
decoded body, with generated ids replaced by ``<prefix>_<id>`` placeholders and
``VOLATILE_KEYS`` dropped. Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, get_args
from urllib.parse import urlencode

import httpx2
import orjson

from parley.ids import Prefix

__all__ = ["VOLATILE_KEYS", "normalize_request", "request_key"]

#: Body keys dropped (at any depth) before hashing. Empty by default: add a key
#: here only when a provider request carries a value that changes run to run and
#: is not one of Parley's generated ids.
VOLATILE_KEYS: frozenset[str] = frozenset()

_ID_PREFIXES = "|".join(sorted((p for p in get_args(Prefix) if p != "file"), key=len, reverse=True))

# Ids may stand alone (``"call_id": "fc_…"``) or sit inside a larger string
# (a tool-output text, a URL); the look-arounds stop a match inside longer words.
_GENERATED_ID = re.compile(rf"(?<![0-9A-Za-z])(?:({_ID_PREFIXES})_|file-)[0-9a-f]{{48}}(?![0-9A-Za-z])")


# Chat tool-call ids Parley derives from an item id (``call_`` + 24 hex digits, short enough for
# providers that cap ids), and the scores of search results laid out for the model: both change
# from run to run (the scores with the embedder's floating point) while the call stays the same.
_DERIVED_CALL_ID = re.compile(r"(?<![0-9A-Za-z])call_[0-9a-f]{24}(?![0-9A-Za-z])")
_SEARCH_SCORE = re.compile(r"(?<=score: )-?[0-9][0-9.e+-]*")


def _placeholder(match: re.Match[str]) -> str:
    prefix = match.group(1)
    return "file-<id>" if prefix is None else f"{prefix}_<id>"


def normalize_ids(text: str) -> str:
    """Replace every generated id in ``text`` by its prefix plus ``<id>``, and search scores."""
    text = _GENERATED_ID.sub(_placeholder, text)
    if "call_" in text:
        text = _DERIVED_CALL_ID.sub("call_<id>", text)
    if "score: " in text:
        text = _SEARCH_SCORE.sub("<score>", text)
    return text


def _normalize_value(value: Any, volatile_keys: frozenset[str]) -> Any:
    if isinstance(value, str):
        return normalize_ids(value)
    if isinstance(value, dict):
        return {k: _normalize_value(v, volatile_keys) for k, v in value.items() if k not in volatile_keys}
    if isinstance(value, list):
        return [_normalize_value(v, volatile_keys) for v in value]
    return value


def _decode_body(body: bytes) -> Any:
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", errors="replace")


def _path(url: httpx2.URL) -> str:
    path = normalize_ids(url.path)
    items = sorted(url.params.multi_items())
    if not items:
        return path
    return f"{path}?{normalize_ids(urlencode(items))}"


def normalize_request(
    method: str, url: httpx2.URL, body: bytes, *, volatile_keys: frozenset[str] = VOLATILE_KEYS
) -> dict[str, Any]:
    """The host-independent, id-independent form of a request: ``{method, path, body}``.

    ``body`` is the decoded JSON, or the text when the body is not JSON, or
    ``None`` when there is no body.
    """
    return {
        "method": method.upper(),
        "path": _path(url),
        "body": _normalize_value(_decode_body(body), volatile_keys),
    }


def request_key(normalized: dict[str, Any]) -> str:
    """SHA-256 hex digest of the canonical (key-sorted) JSON of a normalized request."""
    return hashlib.sha256(orjson.dumps(normalized, option=orjson.OPT_SORT_KEYS)).hexdigest()

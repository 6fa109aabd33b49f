"""One human-readable JSON file per recorded call.

Recordings are read and reviewed by people (in diffs, when a replay misses), so
each call is its own file laid out as ``<directory>/<key[:2]>/<key>.json``; the
two-character shard keeps any one directory small. A file holds::

    {"request": <normalized request>,
     "response": {"status": 200, "headers": {"content-type": "..."},
                  "json": <parsed body> | "sse": ["data: {...}", "", ...] | "text": "..."}}

The body is stored parsed (JSON), as lines (server-sent events) or as text so a
reviewer can read it; bytes that are not UTF-8 fall back to ``"base64"``. Only
``content-type`` is kept from the headers, so credentials (``authorization``,
``api-key``, ``x-api-key``) can never reach the disk. Files are written to a
temporary name and renamed, so a crashed recording run never leaves half a file.
"""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from parley.recording.normalize import request_key

__all__ = ["KEPT_HEADERS", "Recording", "RecordingStore"]

#: The only response headers written to disk.
KEPT_HEADERS = frozenset({"content-type"})


@dataclass(frozen=True, slots=True)
class Recording:
    """A normalized request and the response the upstream gave to it."""

    request: dict[str, Any]
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def key(self) -> str:
        return request_key(self.request)


def _media_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _encode_body(media_type: str, content: bytes) -> dict[str, Any]:
    if not content:
        return {}
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(content).decode("ascii")}
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return {"json": orjson.loads(content)}
        except orjson.JSONDecodeError:
            return {"text": text}
    if media_type == "text/event-stream":
        lines = text.replace("\r\n", "\n").split("\n")
        if lines[-1] == "":
            lines.pop()
        return {"sse": lines}
    return {"text": text}


def _decode_body(response: dict[str, Any]) -> bytes:
    if "json" in response:
        return orjson.dumps(response["json"])
    if "sse" in response:
        return ("\n".join(response["sse"]) + "\n").encode("utf-8")
    if "text" in response:
        return str(response["text"]).encode("utf-8")
    if "base64" in response:
        return base64.b64decode(response["base64"])
    return b""


class RecordingStore:
    """Reads and writes recordings under one directory, keyed by ``request_key``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def load(self, key: str) -> Recording | None:
        try:
            data = orjson.loads(self.path_for(key).read_bytes())
        except FileNotFoundError:
            return None
        response = data["response"]
        return Recording(
            request=data["request"],
            status=int(response["status"]),
            headers={str(k).lower(): str(v) for k, v in response.get("headers", {}).items()},
            content=_decode_body(response),
        )

    def save(self, recording: Recording) -> Path:
        headers = {k.lower(): v for k, v in recording.headers.items() if k.lower() in KEPT_HEADERS}
        document = {
            "request": recording.request,
            "response": {
                "status": recording.status,
                "headers": headers,
                **_encode_body(_media_type(headers), recording.content),
            },
        }
        path = self.path_for(recording.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

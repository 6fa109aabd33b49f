"""Input parts that name an uploaded file (``file_id``), read from Parley's own Files API store.

A chat-completions provider knows nothing of Parley's file ids, so an ``input_image`` or
``input_file`` that names one is sent as what it names: an image as a ``data:`` URL, a file as the
chat ``file`` part with its bytes inline (the form inline ``file_data`` already takes). A file the
caller may not see (unknown, expired, deleted, or another owner's) is the 404 of the Files API,
naming its place in the input. The stored items keep the ``file_id`` as the caller sent it; only
the context the model reads holds the bytes. In a stored history, a file deleted since becomes a
note saying so, rather than a history that can never be continued.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Iterator
from typing import Any

from parley.errors import NotFound
from parley.retrieval.library import VectorStoreLibrary, file_not_found
from parley.storage.library import FileRecord
from parley.wire.items import Item, item_type

_PARTS = {"message": "content", "function_call_output": "output", "custom_tool_call_output": "output"}
"""Item types whose content parts may name a file, and the field that holds the parts."""
_FILE_PARTS = ("input_image", "input_file")
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"),
)

Place = tuple[int, str, int]
"""Where a part is: the item's index, the field holding the parts, the part's index."""


NAMES_A_FILE = "parley.names_file"
"""Counted among a history's item types (``HistoryMessages.item_types``) when one of its items
names a file: only then is a stored history read again for file parts, turn after turn."""


def kinds(item: Item) -> tuple[str, ...]:
    """The item's type, and ``NAMES_A_FILE`` with it when one of its parts names a file."""
    kind = item_type(item)
    field = _PARTS.get(kind)
    parts = item.get(field) if field is not None else None
    if isinstance(parts, list) and any(
        isinstance(part, dict) and part.get("type") in _FILE_PARTS and part.get("file_id") for part in parts
    ):
        return kind, NAMES_A_FILE
    return (kind,)


def _named_files(items: list[Item]) -> Iterator[tuple[Place, str]]:
    for index, item in enumerate(items):
        field = _PARTS.get(item["type"])
        parts = item.get(field) if field is not None else None
        if field is None or not isinstance(parts, list):
            continue
        for number, part in enumerate(parts):
            if part.get("type") in _FILE_PARTS and part.get("file_id") and not _inline(part):
                yield (index, field, number), part["file_id"]


def _inline(part: dict[str, Any]) -> bool:
    return bool(part.get("image_url") or part.get("file_data") or part.get("file_url"))


def _media_type(record: FileRecord, data: bytes) -> str:
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return mimetypes.guess_type(record.filename)[0] or "application/octet-stream"


def _resolved(part: dict[str, Any], record: FileRecord, data: bytes) -> dict[str, Any]:
    url = f"data:{_media_type(record, data)};base64,{base64.b64encode(data).decode()}"
    named = {k: v for k, v in part.items() if k != "file_id"}
    if part["type"] == "input_image":
        return {**named, "image_url": url}
    return {**named, "file_data": url, "filename": part.get("filename") or record.filename}


async def _read(library: VectorStoreLibrary, record: FileRecord) -> bytes | None:
    try:
        return await library.blobs.read(record.sha256)
    except FileNotFoundError:
        return None


async def resolve_files(
    items: list[Item], library: VectorStoreLibrary | None, owner: str, *, strict_from: int
) -> list[Item]:
    """``items`` with each part that names a file holding its bytes instead. A file missing from an
    item at ``strict_from`` or later (the new input) is a 404 naming it; before that (stored history)
    it becomes a note. Items without such parts are returned as they are."""
    named = list(_named_files(items))
    if not named:
        return items
    ids = sorted({file_id for _, file_id in named})
    records = await library.files.get_many(ids, owner) if library is not None else {}
    contents = {fid: await _read(library, rec) for fid, rec in records.items()} if library else {}
    resolved = list(items)
    for (index, field, number), file_id in named:
        data = contents.get(file_id)
        if data is None and index >= strict_from:
            raise _not_found(file_id, f"input[{index - strict_from}].{field}[{number}].file_id")
        item = resolved[index] = {**resolved[index]}
        parts = item[field] = list(item[field])
        part = parts[number]
        parts[number] = (
            _resolved(part, records[file_id], data)
            if data is not None
            else {"type": "input_text", "text": f"[{part['type']} {file_id}: the file no longer exists]"}
        )
    return resolved


def _not_found(file_id: str, param: str) -> NotFound:
    error = file_not_found(file_id)
    error.param = param
    return error

"""Routes of ``/v1/files``: multipart upload, list, retrieve, content, delete.

An upload is refused with 413 as early as possible: from ``Content-Length`` before reading,
and by counting the body while it streams (a chunked upload has no length to trust). The
caller's filename is kept as metadata with any directory part removed, never used as a path.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from parley.api.common import json_response, library, list_object, list_query, principal
from parley.errors import InvalidRequest, NotFound, PayloadTooLarge
from parley.retrieval.library import file_not_found
from parley.storage.library import FileRecord

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
MULTIPART_OVERHEAD = 64 * 1024
"""Room for boundaries and the small fields around the file part when checking the body size."""
BATCH_EXPIRY = 30 * 86400
MIN_EXPIRY, MAX_EXPIRY = 3600, 30 * 86400


def max_file_bytes(request: Request) -> int:
    limit: int = request.app.state.settings.max_file_bytes
    return limit


async def _counted(stream: AsyncGenerator[bytes, None], limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit + MULTIPART_OVERHEAD:
            raise PayloadTooLarge(limit)
        yield chunk


async def _form(request: Request, limit: int) -> FormData:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest(
            "Uploads must be sent as multipart/form-data with 'file' and 'purpose' fields.",
            code="invalid_content_type",
        )
    parser = MultiPartParser(
        request.headers,
        _counted(request.stream(), limit),
        max_files=1,
        max_fields=16,
        max_part_size=64 * 1024,
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise InvalidRequest(f"Invalid multipart body: {exc.message}", code="invalid_multipart") from None


def _required(form: FormData, name: str) -> Any:
    value = form.get(name)
    if value is None or value == "":
        raise InvalidRequest(
            f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
        )
    return value


def _expires_in(form: FormData, purpose: str) -> int | None:
    """``expires_after[seconds]`` from ``created_at``; batch files default to 30 days, as at OpenAI."""
    anchor, raw = form.get("expires_after[anchor]"), form.get("expires_after[seconds]")
    if anchor is None and raw is None:
        return BATCH_EXPIRY if purpose == "batch" else None
    if anchor != "created_at":
        raise InvalidRequest(
            f"Invalid value for 'expires_after.anchor': expected 'created_at', got {anchor!r}.",
            param="expires_after.anchor",
            code="invalid_value",
        )
    seconds = int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() else -1  # not "²"
    if not MIN_EXPIRY <= seconds <= MAX_EXPIRY:
        raise InvalidRequest(
            f"Invalid value for 'expires_after.seconds': expected an integer from {MIN_EXPIRY} to "
            f"{MAX_EXPIRY}, got {raw!r}.",
            param="expires_after.seconds",
            code="invalid_value",
        )
    return seconds


def display_name(raw: str | None) -> str:
    """The last path component, as OpenAI reports it (``../a/b.txt`` -> ``b.txt``)."""
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    return name or "upload"


async def create_file(request: Request) -> Response:
    limit = max_file_bytes(request)
    form = await _form(request, limit)
    try:
        upload = _required(form, "file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest(
                "'file' must be a file part, not a text field.", param="file", code="invalid_type"
            )
        purpose = _required(form, "purpose")
        if purpose not in PURPOSES:
            raise InvalidRequest(
                f"Invalid value for 'purpose': expected one of {', '.join(PURPOSES)}, got {purpose!r}.",
                param="purpose",
                code="invalid_value",
            )
        expires_in = _expires_in(form, purpose)
        record = await library(request).add_file(
            principal(request),
            display_name(upload.filename),
            purpose,
            upload.file,
            limit=limit,
            expires_in=expires_in,
        )
    finally:
        await form.close()
    return json_response(record.wire())


async def list_files(request: Request) -> Response:
    limit, order = list_query(request, default_order="desc", default_limit=10_000, max_limit=10_000)
    page = await library(request).files.list(
        principal(request),
        purpose=request.query_params.get("purpose"),
        after=request.query_params.get("after"),
        limit=limit,
        order=order,
    )
    return json_response(list_object(page.data, page.has_more))


async def _file(request: Request) -> FileRecord:
    file_id = request.path_params["file_id"]
    record = await library(request).files.get(file_id, principal(request))
    if record is None:
        raise file_not_found(file_id)
    return record


async def retrieve_file(request: Request) -> Response:
    return json_response((await _file(request)).wire())


async def file_content(request: Request) -> Response:
    """A file on local disk goes out with sendfile; an object store's streams through, piece by piece."""
    record = await _file(request)
    body = await library(request).blobs.open(record.sha256)
    if body is None:
        raise NotFound(f"The content of {record.id} is no longer available.", param="file_id")
    if isinstance(body, Path):
        return FileResponse(body, media_type="application/octet-stream")
    headers = {"content-length": str(record.bytes)}
    return StreamingResponse(body, media_type="application/octet-stream", headers=headers)


async def delete_file(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    if not await library(request).delete_file(file_id, principal(request)):
        raise file_not_found(file_id)
    return json_response({"id": file_id, "object": "file", "deleted": True})


routes = [
    Route("/v1/files", create_file, methods=["POST"]),
    Route("/v1/files", list_files, methods=["GET"]),
    Route("/v1/files/{file_id}", retrieve_file, methods=["GET"]),
    Route("/v1/files/{file_id}", delete_file, methods=["DELETE"]),
    Route("/v1/files/{file_id}/content", file_content, methods=["GET"]),
]

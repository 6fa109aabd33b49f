"""Bad input to the Files API (list, retrieve, content, delete, multipart uploads), wrong methods and
unknown routes under /v1/files and /v1/vector_stores: an OpenAI error body, and nothing changed.

Shares the world of ``test_retrieval_errors.py`` (one store with a file from a batch, one loose file).
"""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

import pytest

from tests.api.test_errors import assert_error
from tests.api.test_retrieval_errors import NOT_FOUND, ROOT, VALUE, World, send, snapshot, world

__all__ = ["world"]  # the module-scoped fixture, shared

pytestmark = pytest.mark.asyncio(loop_scope="module")

MISSING, TYPE = "missing_required_parameter", "invalid_type"
BOUNDARY = "b0undary"
Part = tuple[str, str | None, bytes]  # name, filename (None: a text field), content
FILE: Part = ("file", "notes.txt", b"some notes")
PURPOSE: Part = ("purpose", None, b"assistants")


def multipart(*parts: Part) -> bytes:
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def expiry(anchor: str | None, seconds: str | None) -> list[Part]:
    parts: list[Part] = [] if anchor is None else [("expires_after[anchor]", None, anchor.encode())]
    return parts + ([] if seconds is None else [("expires_after[seconds]", None, seconds.encode())])


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
UPLOADS = [
    pytest.param(MULTIPART, multipart(PURPOSE), 400, "file", MISSING, id="no-file-part"),
    pytest.param(MULTIPART, multipart(PURPOSE, ("file", None, b"x")), 400, "file", TYPE, id="file-is-text"),
    pytest.param(MULTIPART, multipart(FILE), 400, "purpose", MISSING, id="no-purpose"),
    pytest.param(MULTIPART, multipart(FILE, ("purpose", None, b"")), 400, "purpose", MISSING,
                 id="purpose-empty"),
    pytest.param(MULTIPART, multipart(FILE, ("purpose", None, b"training")), 400, "purpose", VALUE,
                 id="purpose-unknown"),
    pytest.param(MULTIPART, multipart(FILE, PURPOSE, *expiry("last_active_at", "3600")), 400,
                 "expires_after.anchor", VALUE, id="expires-anchor"),
    pytest.param(MULTIPART, multipart(FILE, PURPOSE, *expiry(None, "3600")), 400, "expires_after.anchor",
                 VALUE, id="expires-seconds-only"),
    *[pytest.param(MULTIPART, multipart(FILE, PURPOSE, *expiry("created_at", seconds)), 400,
                   "expires_after.seconds", VALUE, id=f"expires-seconds-{seconds}")
      for seconds in (None, "3599", "2592001", "1h", "-3600", "3600.0")],
    pytest.param(MULTIPART, multipart(FILE, FILE, PURPOSE), 400, ROOT, ANY, id="two-files"),
    pytest.param(MULTIPART, multipart(FILE, *[(f"x{i}", None, b"1") for i in range(17)]), 400, ROOT, ANY,
                 id="too-many-fields"),
    pytest.param(MULTIPART, b"--b0undary\r\n garbage", 400, ROOT, ANY, id="malformed-multipart"),
    pytest.param("multipart/form-data", multipart(FILE, PURPOSE), 400, ROOT, ANY, id="no-boundary"),
    pytest.param("application/json", b'{"purpose": "assistants"}', 400, ROOT, ANY, id="json-body"),
    pytest.param("application/x-www-form-urlencoded", b"purpose=assistants&file=x", 400, ROOT, ANY,
                 id="urlencoded-body"),
    pytest.param("text/plain", b"", 400, ROOT, ANY, id="empty-text-body"),
    pytest.param(MULTIPART, multipart(("file", "big.txt", b"x" * 1001), PURPOSE), 413, "file",
                 "file_too_large", id="over-the-limit"),
]  # fmt: skip


@pytest.mark.parametrize(("content_type", "content", "status", "param", "code"), UPLOADS)
async def test_refused_upload_stores_nothing(
    world: World, content_type: str, content: bytes, status: int, param: str | None, code: Any
) -> None:
    before = await snapshot(world)
    r = await world.raw.post("/files", content=content, headers={"content-type": content_type})
    assert_error(r, status, param=param, code=code)
    assert await snapshot(world) == before  # no row, and no blob or staged upload left on disk


async def test_a_lying_content_length_is_refused_before_reading(world: World) -> None:
    before = await snapshot(world)
    headers = {"content-type": MULTIPART, "content-length": str(10**9)}
    r = await world.raw.post("/files", content=b"", headers=headers)
    assert_error(r, 413, param="file", code="file_too_large")
    assert await snapshot(world) == before


FILE_CASES = [
    *[pytest.param("GET", f"/files?{query}", 400, query.split("=")[0], VALUE, id=f"list-{query}")
      for query in ("limit=0", "limit=10001", "limit=", "limit=1e3", "order=random")],
    pytest.param("GET", "/files/file-nope", 404, "file_id", NOT_FOUND, id="retrieve-unknown"),
    pytest.param("GET", "/files/file-nope/content", 404, "file_id", NOT_FOUND, id="content-unknown"),
    pytest.param("DELETE", "/files/file-nope", 404, "file_id", NOT_FOUND, id="delete-unknown"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "status", "param", "code"), FILE_CASES)
async def test_refused_file_request(
    world: World, method: str, path: str, status: int, param: str, code: str
) -> None:
    before = await snapshot(world)
    error = assert_error(await send(world, method, path, None), status, param=param, code=code)
    if status == 404:
        assert error["message"] == "No such File object: file-nope"  # OpenAI's own wording
    assert await snapshot(world) == before


WRONG_METHODS = [
    pytest.param("PUT", "/vector_stores", {"GET", "POST"}, id="put-stores"),
    pytest.param("DELETE", "/vector_stores", {"GET", "POST"}, id="delete-stores"),
    pytest.param("PATCH", "/vector_stores/<vs>", {"GET", "POST", "DELETE"}, id="patch-store"),
    pytest.param("GET", "/vector_stores/<vs>/search", {"POST"}, id="get-search"),
    pytest.param("PUT", "/vector_stores/<vs>/files", {"GET", "POST"}, id="put-store-files"),
    pytest.param("PATCH", "/vector_stores/<vs>/files/<file>", {"GET", "POST", "DELETE"}, id="patch-vs-file"),
    pytest.param("POST", "/vector_stores/<vs>/files/<file>/content", {"GET"}, id="post-store-file-content"),
    pytest.param("GET", "/vector_stores/<vs>/file_batches", {"POST"}, id="get-batches"),
    pytest.param("DELETE", "/vector_stores/<vs>/file_batches/<batch>", {"GET"}, id="delete-batch"),
    pytest.param("GET", "/vector_stores/<vs>/file_batches/<batch>/cancel", {"POST"}, id="get-cancel"),
    pytest.param("POST", "/vector_stores/<vs>/file_batches/<batch>/files", {"GET"}, id="post-batch-files"),
    pytest.param("DELETE", "/files", {"GET", "POST"}, id="delete-files"),
    pytest.param("POST", "/files/<loose>", {"GET", "DELETE"}, id="post-file"),
    pytest.param("DELETE", "/files/<loose>/content", {"GET"}, id="delete-file-content"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "allowed"), WRONG_METHODS)
async def test_wrong_method_is_405_with_allow(
    world: World, method: str, path: str, allowed: set[str]
) -> None:
    before = await snapshot(world)
    r = await send(world, method, path, {})
    error = assert_error(r, 405, param=None, code="method_not_allowed")
    assert error["message"] == f"Invalid URL ({method} /v1{world.fill(path)})"
    methods = {m.strip() for m in r.headers["allow"].split(",")}
    assert methods - {"HEAD"} == allowed
    assert await snapshot(world) == before


async def test_allow_header_names_each_method_once(world: World) -> None:
    r = await send(world, "PUT", "/vector_stores/<vs>/search", None)
    assert r.headers.get_list("allow") == ["POST"]


@pytest.mark.parametrize(
    "path",
    [
        "/vector_stores/<vs>/nope",
        "/vector_stores/<vs>/files/<file>/nope",
        "/vector_stores/<vs>/file_batches/<batch>/files/<file>",
        "/files/<loose>/nope",
    ],
)
async def test_unknown_route_is_404(world: World, path: str) -> None:
    error = assert_error(await send(world, "GET", path, None), 404, param=None, code="not_found")
    assert error["message"] == f"Invalid URL (GET /v1{world.fill(path)})"


@pytest.mark.parametrize(
    "path",
    [
        "/vector_stores?after=vs_nope",
        "/vector_stores?before=vs_nope",
        "/files?after=file-nope",
        "/vector_stores/<vs>/files?after=file-nope",
        "/vector_stores/<vs>/files?before=<loose>",
        "/vector_stores/<vs>/file_batches/<batch>/files?after=file-nope",
    ],
)
async def test_unknown_cursor_is_an_empty_page(world: World, path: str) -> None:
    """As ``/v1/responses`` does: a cursor naming nothing in the list ends it, never a 500."""
    r = await send(world, "GET", path, None)
    assert r.status_code == 200, r.text
    assert r.json() == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}

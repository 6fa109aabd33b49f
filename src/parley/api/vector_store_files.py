"""Routes of ``/v1/vector_stores/{id}/files`` and ``/file_batches``.

Attaching answers at once with the file ``in_progress``; ingestion runs in the background and
the file's ``status``/``last_error`` say how it ended. Detaching keeps the File itself.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from parley.api import vector_store_params as params
from parley.api.common import json_body, json_response, library, list_object, list_query, principal
from parley.errors import NotFound
from parley.retrieval.library import file_not_found
from parley.storage.library import FILE_STATUSES, FileListQuery


def _file_not_found(store_id: str, file_id: str) -> NotFound:
    return NotFound(f"No file found with id '{file_id}' in vector store '{store_id}'.", param="file_id")


def _batch_not_found(store_id: str, batch_id: str) -> NotFound:
    return NotFound(
        f"No file batch found with id '{batch_id}' in vector store '{store_id}'.", param="batch_id"
    )


def _ids(request: Request) -> tuple[str, str]:
    return request.path_params["vector_store_id"], principal(request)


def _list_query(request: Request, batch_id: str | None = None) -> FileListQuery:
    limit, order = list_query(request, default_order="desc")
    status = request.query_params.get("filter")
    if status is not None and status not in FILE_STATUSES:
        raise params.invalid("filter", f"Invalid 'filter': expected one of {', '.join(FILE_STATUSES)}.")
    return FileListQuery(
        status=status,
        batch_id=batch_id,
        after=request.query_params.get("after"),
        before=request.query_params.get("before"),
        limit=limit,
        order=order,
    )


async def attach_file(request: Request) -> Response:
    store_id, owner = _ids(request)
    spec = params.file_spec(params.body_object(await json_body(request)))
    [record] = await library(request).attach(store_id, owner, [spec])
    return json_response(record.wire())


async def list_files(request: Request) -> Response:
    store_id, owner = _ids(request)
    service = library(request)
    await service.store(store_id, owner)
    records, has_more = await service.stores.list_files(store_id, owner, _list_query(request))
    return json_response(list_object([r.wire() for r in records], has_more))


async def retrieve_file(request: Request) -> Response:
    store_id, owner = _ids(request)
    file_id = request.path_params["file_id"]
    service = library(request)
    await service.store(store_id, owner)
    record = await service.stores.get_file(store_id, file_id, owner)
    if record is None:
        raise _file_not_found(store_id, file_id)
    return json_response(record.wire())


async def update_file(request: Request) -> Response:
    store_id, owner = _ids(request)
    file_id = request.path_params["file_id"]
    body = params.body_object(await json_body(request))
    if "attributes" not in body:
        raise params.invalid(
            "attributes", "Missing required parameter: 'attributes'.", "missing_required_parameter"
        )
    attributes = params.attributes(body["attributes"])
    record = await library(request).set_attributes(store_id, file_id, owner, attributes)
    if record is None:
        raise _file_not_found(store_id, file_id)
    return json_response(record.wire())


async def delete_file(request: Request) -> Response:
    store_id, owner = _ids(request)
    file_id = request.path_params["file_id"]
    if not await library(request).detach(store_id, file_id, owner):
        raise _file_not_found(store_id, file_id)
    return json_response({"id": file_id, "object": "vector_store.file.deleted", "deleted": True})


async def file_content(request: Request) -> Response:
    """The file's indexed text, one part per chunk (the overlap between chunks is repeated)."""
    store_id, owner = _ids(request)
    file_id = request.path_params["file_id"]
    chunks = await library(request).file_chunks(store_id, file_id, owner)
    if chunks is None:
        raise _file_not_found(store_id, file_id)
    page = {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": text} for text in chunks],
        "has_more": False,
        "next_page": None,
    }
    return json_response(page)


async def create_batch(request: Request) -> Response:
    """Every file is looked up before the batch is made, so an unknown id leaves no empty batch behind."""
    store_id, owner = _ids(request)
    specs = params.batch_specs(params.body_object(await json_body(request)))
    service = library(request)
    await service.store(store_id, owner)
    found = await service.files.get_many([spec.file_id for spec in specs], owner)
    missing = [spec.file_id for spec in specs if spec.file_id not in found]
    if missing:
        raise file_not_found(missing[0])
    batch = await service.create_batch(store_id, owner, specs)
    return json_response(batch.wire())


async def retrieve_batch(request: Request) -> Response:
    return await _batch(request, cancel=False)


async def cancel_batch(request: Request) -> Response:
    return await _batch(request, cancel=True)


async def _batch(request: Request, *, cancel: bool) -> Response:
    """The batch (cancelled first when asked), 404 in a store or for a batch the caller cannot see."""
    store_id, owner = _ids(request)
    batch_id = request.path_params["batch_id"]
    service = library(request)
    await service.store(store_id, owner)
    stores = service.stores
    batch = await (stores.cancel_batch if cancel else stores.get_batch)(store_id, batch_id, owner)
    if batch is None:
        raise _batch_not_found(store_id, batch_id)
    return json_response(batch.wire())


async def list_batch_files(request: Request) -> Response:
    store_id, owner = _ids(request)
    batch_id = request.path_params["batch_id"]
    service = library(request)
    await service.store(store_id, owner)
    if await service.stores.get_batch(store_id, batch_id, owner) is None:
        raise _batch_not_found(store_id, batch_id)
    records, has_more = await service.stores.list_files(store_id, owner, _list_query(request, batch_id))
    return json_response(list_object([r.wire() for r in records], has_more))


_VS = "/v1/vector_stores/{vector_store_id}"
routes = [
    Route(f"{_VS}/files", attach_file, methods=["POST"]),
    Route(f"{_VS}/files", list_files, methods=["GET"]),
    Route(f"{_VS}/files/{{file_id}}", retrieve_file, methods=["GET"]),
    Route(f"{_VS}/files/{{file_id}}", update_file, methods=["POST"]),
    Route(f"{_VS}/files/{{file_id}}", delete_file, methods=["DELETE"]),
    Route(f"{_VS}/files/{{file_id}}/content", file_content, methods=["GET"]),
    Route(f"{_VS}/file_batches", create_batch, methods=["POST"]),
    Route(f"{_VS}/file_batches/{{batch_id}}", retrieve_batch, methods=["GET"]),
    Route(f"{_VS}/file_batches/{{batch_id}}/cancel", cancel_batch, methods=["POST"]),
    Route(f"{_VS}/file_batches/{{batch_id}}/files", list_batch_files, methods=["GET"]),
]

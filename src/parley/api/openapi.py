"""``GET /openapi.json`` and ``GET /docs``: the OpenAPI 3.1 document of every route Parley serves.

The operations are one table, next to nothing else: each names its request and answer bodies by
the component names of ``api/openapi_schemas.py``, where they come from the types that check or
shape them. The document is built on first request and kept (building it imports the SDK's types
and takes a second or two); ``tests/api/test_openapi.py`` fails when a route in ``app.ROUTES`` is
missing here, and validates live answers against it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from parley import __version__
from parley.api.conversations import INCLUDABLE
from parley.api.docs_page import render_docs
from parley.api.prompts import MAX_VERSION
from parley.api.responses import STATUSES
from parley.storage.library import FILE_STATUSES

Schema = dict[str, Any]
JSON = "application/json"
SSE = "text/event-stream"
STRING: Schema = {"type": "string"}
LIMIT: Schema = {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
ORDER: Schema = {"type": "string", "enum": ["asc", "desc"], "default": "desc"}
INCLUDE: Schema = {"type": "array", "items": {"type": "string", "enum": list(INCLUDABLE)}}
FLAG: Schema = {"type": "boolean"}
PAGE = {"limit": LIMIT, "order": ORDER, "after": STRING}
PAGE_BOTH_WAYS = {**PAGE, "before": STRING}
FILE_PAGE = {**PAGE_BOTH_WAYS, "filter": {"type": "string", "enum": list(FILE_STATUSES)}}
SECONDS: Schema = {"type": "integer", "description": "Unix seconds, inclusive."}
RESPONSE_STATUS: Schema = {"type": "string", "enum": list(STATUSES)}
RESPONSE_PAGE = {**PAGE, "model": STRING, "status": RESPONSE_STATUS, "created_after": SECONDS,
                 "created_before": SECONDS}  # fmt: skip


@dataclass(frozen=True)
class Operation:
    """One method on one path; ``body`` and ``answer`` are component names (or None for none)."""

    method: str
    path: str
    summary: str
    answer: str | None
    body: str | None = None
    query: dict[str, Schema] = field(default_factory=dict)
    streams: bool = False
    """Also answers ``text/event-stream`` (``stream: true``), one ``ResponseStreamEvent`` per event."""
    status: int = 200
    answer_media: str = JSON
    body_media: str = JSON
    body_required: bool = True


VS, VSF = "/v1/vector_stores/{vector_store_id}", "/v1/vector_stores/{vector_store_id}/files/{file_id}"
BATCH = "/v1/vector_stores/{vector_store_id}/file_batches/{batch_id}"
OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/health", "Liveness: answers while the server runs", "Health"),
    Operation("get", "/openapi.json", "This document", "OpenApiDocument"),
    Operation("get", "/docs", "This document as an HTML page", None, answer_media="text/html"),
    Operation("post", "/v1/responses", "Create a model response", "Response", "CreateResponseRequest",
              streams=True),
    Operation("get", "/v1/responses", "List stored responses, newest first", "ResponseList",
              query=RESPONSE_PAGE),
    Operation("post", "/v1/responses/compact", "Compact a context into a compaction item",
              "CompactedResponse", "ResponseCompactParams"),
    Operation("get", "/v1/responses/{response_id}", "Retrieve a response, or replay its events",
              "Response", streams=True,
              query={"include": INCLUDE, "include[]": INCLUDE, "stream": FLAG,
                     "starting_after": {"type": "integer", "minimum": -1, "maximum": 2**63 - 1}}),
    Operation("delete", "/v1/responses/{response_id}", "Delete a stored response", "ResponseDeleted"),
    Operation("post", "/v1/responses/{response_id}/cancel", "Cancel a background response", "Response"),
    Operation("get", "/v1/responses/{response_id}/input_items", "List a response's input items",
              "ResponseItemList", query=PAGE_BOTH_WAYS),
    Operation("post", "/v1/conversations", "Create a conversation", "Conversation", "ConversationCreateBody",
              body_required=False),
    Operation("get", "/v1/conversations", "List conversations, newest first (a Parley extension)",
              "ConversationList", query=PAGE),
    Operation("get", "/v1/conversations/{conversation_id}", "Retrieve a conversation", "Conversation"),
    Operation("post", "/v1/conversations/{conversation_id}", "Update a conversation's metadata",
              "Conversation", "ConversationUpdateBody"),
    Operation("delete", "/v1/conversations/{conversation_id}", "Delete a conversation",
              "ConversationDeletedResource"),
    Operation("post", "/v1/conversations/{conversation_id}/items", "Add items to a conversation",
              "ConversationItemList", "ItemsCreateBody", query={"include": INCLUDE}),
    Operation("get", "/v1/conversations/{conversation_id}/items", "List a conversation's items",
              "ConversationItemList", query={**PAGE, "include": INCLUDE}),
    Operation("get", "/v1/conversations/{conversation_id}/items/{item_id}", "Retrieve an item",
              "ConversationItem", query={"include": INCLUDE}),
    Operation("delete", "/v1/conversations/{conversation_id}/items/{item_id}",
              "Delete an item; answers with the conversation", "Conversation"),
    Operation("post", "/v1/prompts", "Create a prompt template", "PromptVersion", "PromptCreateBody"),
    Operation("get", "/v1/prompts", "List prompts (their default versions)", "PromptList"),
    Operation("get", "/v1/prompts/{prompt_id}", "Retrieve a prompt (a version, or the default)",
              "PromptVersion", query={"version": {"type": "integer", "minimum": 1, "maximum": MAX_VERSION}}),
    Operation("put", "/v1/prompts/{prompt_id}", "Add a version to a prompt", "PromptVersion",
              "PromptUpdateBody"),
    Operation("post", "/v1/prompts/{prompt_id}", "Add a version to a prompt (earlier clients)",
              "PromptVersion", "PromptUpdateBody"),
    Operation("delete", "/v1/prompts/{prompt_id}", "Delete a prompt and every version", None, status=204),
    Operation("put", "/v1/prompts/{prompt_id}/set-default-version", "Set a prompt's default version",
              "PromptVersion", "PromptDefaultVersionBody"),
    Operation("post", "/v1/prompts/{prompt_id}/set-default-version",
              "Set a prompt's default version (earlier clients)", "PromptVersion",
              "PromptDefaultVersionBody"),
    Operation("get", "/v1/prompts/{prompt_id}/versions", "List a prompt's versions", "PromptList"),
    Operation("post", "/v1/chat/completions", "Chat completion, relayed to the model's provider",
              "ChatCompletion", "ChatCompletionCreateParams", streams=True),
    Operation("post", "/v1/embeddings", "Embeddings, relayed to the model's provider",
              "CreateEmbeddingResponse", "EmbeddingCreateParams"),
    Operation("get", "/v1/models", "Every provider's models", "ModelList"),
    Operation("post", "/v1/files", "Upload a file", "FileObject", "FileUploadBody",
              body_media="multipart/form-data"),
    Operation("get", "/v1/files", "List files", "FileList",
              query={**PAGE, "limit": {**LIMIT, "maximum": 10_000, "default": 10_000}, "purpose": STRING}),
    Operation("get", "/v1/files/{file_id}", "Retrieve a file", "FileObject"),
    Operation("delete", "/v1/files/{file_id}", "Delete a file", "FileDeleted"),
    Operation("get", "/v1/files/{file_id}/content", "A file's bytes", "Binary",
              answer_media="application/octet-stream"),
    Operation("post", "/v1/vector_stores", "Create a vector store", "VectorStore", "VectorStoreCreateParams"),
    Operation("get", "/v1/vector_stores", "List vector stores", "VectorStoreList", query=PAGE_BOTH_WAYS),
    Operation("get", VS, "Retrieve a vector store", "VectorStore"),
    Operation("post", VS, "Modify a vector store", "VectorStore", "VectorStoreUpdateParams"),
    Operation("delete", VS, "Delete a vector store", "VectorStoreDeleted"),
    Operation("post", f"{VS}/search", "Search a vector store", "VectorStoreSearchResultsPage",
              "VectorStoreSearchBody"),
    Operation("post", f"{VS}/files", "Attach a file to a vector store", "VectorStoreFile",
              "VectorStoreFileCreateParams"),
    Operation("get", f"{VS}/files", "List a vector store's files", "VectorStoreFileList",
              query=FILE_PAGE),
    Operation("get", VSF, "Retrieve a vector store file", "VectorStoreFile"),
    Operation("post", VSF, "Set a vector store file's attributes", "VectorStoreFile",
              "VectorStoreFileUpdateParams"),
    Operation("delete", VSF, "Detach a file from a vector store", "VectorStoreFileDeleted"),
    Operation("get", f"{VSF}/content", "A vector store file's indexed text", "VectorStoreFileContentPage"),
    Operation("post", f"{VS}/file_batches", "Attach files in a batch", "VectorStoreFileBatch",
              "FileBatchCreateParams"),
    Operation("get", BATCH, "Retrieve a file batch", "VectorStoreFileBatch"),
    Operation("post", f"{BATCH}/cancel", "Cancel a file batch", "VectorStoreFileBatch"),
    Operation("get", f"{BATCH}/files", "List a file batch's files", "VectorStoreFileList",
              query=FILE_PAGE),
)  # fmt: skip
WEBSOCKET = {
    "/v1/responses": 'WebSocket mode: send `{"type": "response.create", ...create body}` messages and '
    "receive each turn's events (ResponseStreamEvent) as JSON text messages, in SSE order."
}
EXTRA_SCHEMAS: dict[str, Schema] = {
    "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"]},
    "Binary": {"type": "string", "format": "binary"},
}


REF_TEMPLATE = "#/components/schemas/{model}"


def _ref(name: str) -> Schema:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _parameters(operation: Operation) -> list[Schema]:
    path = [
        {"name": name, "in": "path", "required": True, "schema": STRING}
        for name in re.findall(r"\{(\w+)\}", operation.path)
    ]
    query = [{"name": name, "in": "query", "schema": schema} for name, schema in operation.query.items()]
    return path + query


def _answers(operation: Operation) -> Schema:
    content: Schema = {}
    if operation.answer_media == "text/html":
        content["text/html"] = {"schema": STRING}
    elif operation.answer is not None:
        content[operation.answer_media] = {"schema": _ref(operation.answer)}
    if operation.streams:
        event = "ChatCompletionChunk" if operation.answer == "ChatCompletion" else "ResponseStreamEvent"
        content[SSE] = {"schema": STRING, "x-event-schema": _ref(event)}
    success: Schema = {"description": "OK" if operation.status == 200 else "No content"}
    if content:
        success["content"] = content
    error = {"description": "An OpenAI-style error", "content": {JSON: {"schema": _ref("Error")}}}
    return {str(operation.status): success, "default": error}


def _operation(operation: Operation) -> Schema:
    name = re.sub(r"\W+", "_", f"{operation.method}{operation.path}").strip("_")
    spec: Schema = {"operationId": name, "summary": operation.summary, "responses": _answers(operation)}
    parameters = _parameters(operation)
    if parameters:
        spec["parameters"] = parameters
    if operation.body is not None:
        spec["requestBody"] = {
            "required": operation.body_required,
            "content": {operation.body_media: {"schema": _ref(operation.body)}},
        }
    return spec


@functools.cache
def document() -> Schema:
    """The whole document; pure, so built once per process. The ``openai`` SDK's types it is built
    from are imported here, on first use: loaded at start-up, their ~600 modules would be scanned by
    every garbage collection of a server that never serves the document (measured: 20% of the CPU
    of a response at 64 concurrent)."""
    from parley.api.openapi_schemas import component_schemas

    paths: dict[str, Schema] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    for path, description in WEBSOCKET.items():
        paths[path]["x-websocket"] = {"description": description}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Parley",
            "version": __version__,
            "description": "OpenAI's Responses API and the APIs around it, over any "
            "OpenAI-compatible chat provider.",
        },
        "paths": paths,
        "components": {"schemas": {**component_schemas(), **EXTRA_SCHEMAS}},
    }


@functools.cache
def _document_bytes() -> bytes:
    return orjson.dumps(document())


async def openapi_json(request: Request) -> Response:
    """Built in a worker thread the first time, so the event loop keeps serving meanwhile."""
    return Response(await anyio.to_thread.run_sync(_document_bytes), media_type=JSON)


@functools.cache
def _docs_html() -> str:
    return render_docs(document())


async def docs(request: Request) -> Response:
    return HTMLResponse(await anyio.to_thread.run_sync(_docs_html))


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
]

"""The bodies named in Parley's OpenAPI document, and the one call that turns them into JSON Schema.

Each body comes from the type that is true by construction: a request Parley validates with its
own pydantic model is described by that model; an answer shaped as OpenAI's is described by the
``openai`` SDK's type for it. Only what has neither (list pages with nullable ids, the prompts
API, search pages, errors, ``/health``) is written here, as small models that mirror the code that
builds those bodies. All of them go through one ``TypeAdapter.json_schemas`` call, so every nested
type lands once in ``components.schemas`` and name clashes are settled by pydantic.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from openai.types import (
    CreateEmbeddingResponse,
    EmbeddingCreateParams,
    FileDeleted,
    FileObject,
    Model,
    VectorStore,
    VectorStoreCreateParams,
    VectorStoreDeleted,
    VectorStoreSearchResponse,
    VectorStoreUpdateParams,
)
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import CompletionCreateParamsBase
from openai.types.conversations import Conversation, ConversationDeletedResource, ConversationItem
from openai.types.responses import CompactedResponse, Response, ResponseItem, ResponseStreamEvent
from openai.types.responses.response_compact_params import ResponseCompactParams
from openai.types.shared_params import ComparisonFilter, CompoundFilter
from openai.types.vector_stores import (
    FileBatchCreateParams,
    FileContentResponse,
    FileUpdateParams,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileDeleted,
)
from openai.types.vector_stores import FileCreateParams as VectorStoreFileCreateParams
from pydantic import BaseModel, Field, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from parley.api.files import PURPOSES
from parley.api.openapi import REF_TEMPLATE
from parley.api.prompts import _DefaultVersion, _NewVersion, _Template
from parley.wire.items import InputItem
from parley.wire.parameters import CREATE_PARAMETERS
from parley.wire.request import CreateResponseRequest
from parley.wire.tools import Tool

Data = TypeVar("Data")


class ListPage(BaseModel, Generic[Data]):
    """``api/common.py:list_object``: the ids of an empty page are null."""

    object: Literal["list"]
    data: list[Data]
    first_id: str | None
    last_id: str | None
    has_more: bool


class DataPage(BaseModel, Generic[Data]):
    """``{"object": "list", "data": [...]}``, as ``/v1/models`` answers."""

    object: Literal["list"]
    data: list[Data]


class ErrorObject(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx Parley answers (``api/errors.py``)."""

    error: ErrorObject


class Health(BaseModel):
    status: Literal["ok"]


class ResponseDeleted(BaseModel):
    id: str
    object: Literal["response.deleted"]
    deleted: Literal[True]


class ConversationCreateBody(BaseModel):
    """``api/conversations.py:create_conversation``; an empty body is an empty conversation."""

    items: list[InputItem] | None = Field(default=None, max_length=20)
    metadata: dict[str, str] | None = None


class ConversationUpdateBody(BaseModel):
    metadata: dict[str, str] | None


class ItemsCreateBody(BaseModel):
    items: list[InputItem] = Field(max_length=20)


class PromptVersion(BaseModel):
    """``storage/prompts.py:PromptVersion.wire``: the ogx peer's prompt, plus Parley's fields."""

    prompt_id: str
    version: int
    prompt: str
    variables: list[str]
    is_default: bool
    model: str | None
    tools: list[Tool] | None
    created_at: int


class PromptList(BaseModel):
    data: list[PromptVersion]


class SearchRanking(BaseModel):
    """OpenAI's ranking options, plus Parley's rankers (``rrf``, ``weighted``) and ``alpha``."""

    ranker: Literal["none", "auto", "default-2024-11-15", "rrf", "weighted"] = "auto"
    score_threshold: float = Field(default=0.0, ge=0, le=1)
    alpha: float = Field(default=0.5, ge=0, le=1)


class VectorStoreSearchBody(BaseModel):
    """``api/vector_stores.py:search_store``: OpenAI's body plus ``search_mode``."""

    query: str | list[str]
    filters: ComparisonFilter | CompoundFilter | None = None
    max_num_results: int = Field(default=10, ge=1, le=50)
    ranking_options: SearchRanking | None = None
    rewrite_query: bool = False
    search_mode: Literal["hybrid", "vector", "keyword"] = "hybrid"


class SearchResultsPage(BaseModel):
    object: Literal["vector_store.search_results.page"]
    search_query: list[str]
    data: list[VectorStoreSearchResponse]
    has_more: bool
    next_page: str | None


class FileContentPage(BaseModel):
    object: Literal["vector_store.file_content.page"]
    data: list[FileContentResponse]
    has_more: bool
    next_page: str | None


class FileUploadBody(BaseModel):
    """``multipart/form-data`` of ``POST /v1/files`` (``api/files.py``)."""

    file: bytes = Field(json_schema_extra={"format": "binary"})
    purpose: str = Field(json_schema_extra={"enum": list(PURPOSES)})
    expires_after_anchor: Literal["created_at"] | None = Field(default=None, alias="expires_after[anchor]")
    expires_after_seconds: int | None = Field(
        default=None, ge=3600, le=30 * 86400, alias="expires_after[seconds]"
    )


REQUESTS: dict[str, Any] = {
    "CreateResponseRequest": CreateResponseRequest,
    "ResponseCompactParams": ResponseCompactParams,
    "ConversationCreateBody": ConversationCreateBody,
    "ConversationUpdateBody": ConversationUpdateBody,
    "ItemsCreateBody": ItemsCreateBody,
    "PromptCreateBody": _Template,
    "PromptUpdateBody": _NewVersion,
    "PromptDefaultVersionBody": _DefaultVersion,
    "ChatCompletionCreateParams": CompletionCreateParamsBase,
    "EmbeddingCreateParams": EmbeddingCreateParams,
    "FileUploadBody": FileUploadBody,
    "VectorStoreCreateParams": VectorStoreCreateParams,
    "VectorStoreUpdateParams": VectorStoreUpdateParams,
    "VectorStoreSearchBody": VectorStoreSearchBody,
    "VectorStoreFileCreateParams": VectorStoreFileCreateParams,
    "VectorStoreFileUpdateParams": FileUpdateParams,
    "FileBatchCreateParams": FileBatchCreateParams,
}
"""Request bodies, by the name the document gives them."""

ANSWERS: dict[str, Any] = {
    "Response": Response,
    "ResponseStreamEvent": ResponseStreamEvent,
    "ResponseList": ListPage[Response],
    "ResponseItem": ResponseItem,
    "ResponseItemList": ListPage[ResponseItem],
    "ResponseDeleted": ResponseDeleted,
    "CompactedResponse": CompactedResponse,
    "Conversation": Conversation,
    "ConversationList": ListPage[Conversation],
    "ConversationDeletedResource": ConversationDeletedResource,
    "ConversationItem": ConversationItem,
    "ConversationItemList": ListPage[ConversationItem],
    "PromptVersion": PromptVersion,
    "PromptList": PromptList,
    "ChatCompletion": ChatCompletion,
    "ChatCompletionChunk": ChatCompletionChunk,
    "CreateEmbeddingResponse": CreateEmbeddingResponse,
    "ModelList": DataPage[Model],
    "FileObject": FileObject,
    "FileList": ListPage[FileObject],
    "FileDeleted": FileDeleted,
    "VectorStore": VectorStore,
    "VectorStoreList": ListPage[VectorStore],
    "VectorStoreDeleted": VectorStoreDeleted,
    "VectorStoreSearchResultsPage": SearchResultsPage,
    "VectorStoreFile": VectorStoreFile,
    "VectorStoreFileList": ListPage[VectorStoreFile],
    "VectorStoreFileDeleted": VectorStoreFileDeleted,
    "VectorStoreFileContentPage": FileContentPage,
    "VectorStoreFileBatch": VectorStoreFileBatch,
    "Health": Health,
    "Error": ErrorBody,
}
"""Answer bodies, by the name the document gives them."""


def component_schemas() -> dict[str, Any]:
    """``components.schemas``: every named body, and every type nested in one, each once."""
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        *((name, "validation", TypeAdapter(kind)) for name, kind in REQUESTS.items()),
        *((name, "validation", TypeAdapter(kind)) for name, kind in ANSWERS.items()),
    ]
    tops, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    for (name, _mode), schema in tops.items():
        schemas.setdefault(name, schema)  # a top that is itself a $ref keeps it, under the name
    _refine_create_request(schemas["CreateResponseRequest"])
    _refine_answers(schemas)
    return schemas


def _refine_create_request(schema: dict[str, Any]) -> None:
    """What is checked beyond the model: a model (or a prompt to take one from), something to answer
    (``engine/prepare.py``), and no name OpenAI would not know (the default; ``wire/parameters.py``)."""
    properties = schema["properties"]
    for name in sorted(CREATE_PARAMETERS - set(properties)):
        properties[name] = {"description": "An OpenAI parameter Parley accepts and does not use."}
    schema["additionalProperties"] = False
    schema["anyOf"] = [
        {"required": ["prompt"]},
        *({"required": ["model", context]} for context in ("input", "previous_response_id", "conversation")),
    ]


def _refine_answers(schemas: dict[str, Any]) -> None:
    """Where Parley answers (as OpenAI does) more than the SDK's type of the answer says."""
    purposes = schemas["FileObject"]["properties"]["purpose"]["enum"]
    purposes += [purpose for purpose in PURPOSES if purpose not in purposes]  # "evals" is missing
    # the compacted output keeps the user messages as they went in; the SDK's output union has none
    schemas["CompactedResponse"]["properties"]["output"]["items"] = {
        "$ref": REF_TEMPLATE.format(model="ResponseItem")
    }
    embedding = schemas["Embedding"]["properties"]
    embedding["embedding"] = {  # the SDK decodes base64 itself, so its type says array only
        "anyOf": [embedding["embedding"], {"type": "string", "description": "With encoding_format base64."}]
    }

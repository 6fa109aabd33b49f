"""Input items: validated on the way in, then kept as plain JSON objects.

Items travel through Parley as ``Item`` (a JSON object in exact wire shape): that
is what is stored, echoed by ``input_items`` and turned into chat messages. The
pydantic models below exist only to reject malformed input with a precise
``param``; each keeps unknown fields (``extra="allow"``) so that an item type a
newer client sends survives the round trip unchanged.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from parley.ids import Prefix, new_id
from parley.wire.data_urls import ImageUrl
from parley.wire.tools import Tool

Item = dict[str, Any]
"""One Responses API item as JSON: ``{"type": ..., "id": ..., ...}``."""

item_type = itemgetter("type")
"""An item's type: ``map(item_type, items)`` scans a long history in C."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class InputText(_Model):
    type: Literal["input_text"]
    text: str


class InputImage(_Model):
    type: Literal["input_image"]
    image_url: ImageUrl | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto", "original"] = "auto"


class InputFile(_Model):
    type: Literal["input_file"]
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None


class OutputText(_Model):
    type: Literal["output_text"]
    text: str
    annotations: list[dict[str, Any]] = Field(default_factory=list)


class Refusal(_Model):
    type: Literal["refusal"]
    refusal: str


class SummaryText(_Model):
    type: Literal["summary_text"]
    text: str


class ReasoningText(_Model):
    type: Literal["reasoning_text"]
    text: str


UserPart = Annotated[InputText | InputImage | InputFile, Field(discriminator="type")]
AssistantPart = Annotated[OutputText | Refusal | InputText, Field(discriminator="type")]


class UserMessage(_Model):
    type: Literal["message"] = "message"
    id: str | None = None
    role: Literal["user", "system", "developer"]
    content: str | list[UserPart]
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class AssistantMessage(_Model):
    type: Literal["message"] = "message"
    id: str | None = None
    role: Literal["assistant"]
    content: str | list[AssistantPart]
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    phase: Literal["commentary", "final_answer"] | None = None


class FunctionCall(_Model):
    type: Literal["function_call"]
    id: str | None = None
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: str
    namespace: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class FunctionCallOutput(_Model):
    type: Literal["function_call_output"]
    id: str | None = None
    call_id: str = Field(min_length=1)
    output: str | list[UserPart]
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class Reasoning(_Model):
    type: Literal["reasoning"]
    id: str | None = None
    summary: list[SummaryText] = Field(default_factory=list)
    content: list[ReasoningText] | None = None
    encrypted_content: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class CustomToolCall(_Model):
    type: Literal["custom_tool_call"]
    id: str | None = None
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: str
    namespace: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class CustomToolCallOutput(_Model):
    type: Literal["custom_tool_call_output"]
    id: str | None = None
    call_id: str = Field(min_length=1)
    output: str | list[UserPart]


class ToolSearchCall(_Model):
    type: Literal["tool_search_call"]
    id: str | None = None
    call_id: str | None = None
    arguments: Any = None
    execution: Literal["server", "client"] = "client"
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class ToolSearchOutput(_Model):
    type: Literal["tool_search_output"]
    id: str | None = None
    call_id: str | None = None
    execution: Literal["server", "client"] = "client"
    tools: list[Tool]  # checked as a request's tools are: they are echoed as OpenAI's tool shapes
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class FileSearchResult(_Model):
    file_id: str | None = None
    filename: str | None = None
    score: float | None = None
    text: str | None = None
    attributes: dict[str, str | float | bool] | None = None


class FileSearchCall(_Model):
    """A hosted search, echoed back by a stateless caller: its results are what the model saw."""

    type: Literal["file_search_call"]
    id: str = Field(min_length=1)
    queries: list[str]
    status: Literal["in_progress", "searching", "completed", "incomplete", "failed"] = "completed"
    results: list[FileSearchResult] | None = None


class WebSearchCall(_Model):
    """A hosted web search, echoed back by a stateless caller (``results``: Parley's, what the model saw)."""

    type: Literal["web_search_call"]
    id: str = Field(min_length=1)
    status: Literal["in_progress", "searching", "completed", "incomplete", "failed"] = "completed"
    action: dict[str, Any] | None = None
    results: list[dict[str, Any]] | None = None
    error: str | None = None


class McpListTools(_Model):
    type: Literal["mcp_list_tools"]
    id: str = Field(min_length=1)
    server_label: str
    tools: list[dict[str, Any]]
    error: str | None = None


class McpCall(_Model):
    type: Literal["mcp_call"]
    id: str = Field(min_length=1)
    server_label: str
    name: str
    arguments: str
    output: str | None = None
    error: Any = None
    approval_request_id: str | None = None
    status: Literal["in_progress", "completed", "incomplete", "calling", "failed"] | None = None


class McpApprovalRequest(_Model):
    type: Literal["mcp_approval_request"]
    id: str = Field(min_length=1)
    server_label: str
    name: str
    arguments: str


class McpApprovalResponse(_Model):
    """The caller's answer to an ``mcp_approval_request``: the call runs, or the model hears it was denied."""

    type: Literal["mcp_approval_response"]
    id: str | None = None
    approval_request_id: str = Field(min_length=1)
    approve: bool
    reason: str | None = None


class CompactionItem(_Model):
    """A compacted context (``/v1/responses/compact`` or automatic compaction), opaque to the client."""

    type: Literal["compaction"]
    id: str | None = None
    encrypted_content: str


class CompactionTrigger(_Model):
    """Compacts the context there and then: the response's output is the compaction item alone.
    Must be the final input item."""

    type: Literal["compaction_trigger"]
    id: str | None = None


class ItemReference(_Model):
    type: Literal["item_reference"] = "item_reference"
    id: str


def _item_tag(value: Any) -> str | None:
    """Messages may omit ``type`` (the SDK's EasyInputMessage); their role picks the model."""
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if kind is None and "role" in value:
        kind = "message"
    if kind == "message":
        return "assistant_message" if value.get("role") == "assistant" else "message"
    return kind if isinstance(kind, str) else None


InputItem = Annotated[
    Annotated[UserMessage, Tag("message")]
    | Annotated[AssistantMessage, Tag("assistant_message")]
    | Annotated[FunctionCall, Tag("function_call")]
    | Annotated[FunctionCallOutput, Tag("function_call_output")]
    | Annotated[Reasoning, Tag("reasoning")]
    | Annotated[CustomToolCall, Tag("custom_tool_call")]
    | Annotated[CustomToolCallOutput, Tag("custom_tool_call_output")]
    | Annotated[ToolSearchCall, Tag("tool_search_call")]
    | Annotated[ToolSearchOutput, Tag("tool_search_output")]
    | Annotated[FileSearchCall, Tag("file_search_call")]
    | Annotated[WebSearchCall, Tag("web_search_call")]
    | Annotated[McpListTools, Tag("mcp_list_tools")]
    | Annotated[McpCall, Tag("mcp_call")]
    | Annotated[McpApprovalRequest, Tag("mcp_approval_request")]
    | Annotated[McpApprovalResponse, Tag("mcp_approval_response")]
    | Annotated[CompactionItem, Tag("compaction")]
    | Annotated[CompactionTrigger, Tag("compaction_trigger")]
    | Annotated[ItemReference, Tag("item_reference")],
    Discriminator(_item_tag),
]


ID_PREFIXES: dict[str, Prefix] = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
    "tool_search_call": "tsc",
    "tool_search_output": "tso",
    "file_search_call": "fs",
    "web_search_call": "ws",
    "mcp_list_tools": "mcp",
    "mcp_call": "mcp",
    "mcp_approval_request": "mcp",
    "mcp_approval_response": "mcp",
    "compaction": "cmp",
    "compaction_trigger": "cmpt",
}


def stored_item(model: BaseModel) -> Item:
    """A validated input item as Parley stores it: string message content as one text part,
    ``status`` completed unless given, and an id (with its type's prefix) if it had none."""
    item: Item = model.model_dump(mode="json", exclude_none=True, by_alias=True)
    if item["type"] == "message" and isinstance(item["content"], str):
        kind = "output_text" if isinstance(model, AssistantMessage) else "input_text"
        part: dict[str, Any] = {"type": kind, "text": item["content"]}
        if kind == "output_text":
            part["annotations"] = []
        item["content"] = [part]
    item.setdefault("status", "completed")
    if not item.get("id"):
        item = {"id": new_id(ID_PREFIXES[item["type"]]), **item}
    return item

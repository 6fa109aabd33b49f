"""Tool definitions and tool_choice, as the request carries them.

Client-side tools (``function``, ``custom``, ``namespace`` groups of both, and
``tool_search`` run by the client) are offered to the model; Parley hands their
calls back. ``web_search`` is accepted with all its options (see the README for
what Parley does with it); built-in tools Parley does not run yet get a clear
400 instead of a silent no-op.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[a-zA-Z0-9_.:-]{1,128}$"


class _Tool(BaseModel):
    model_config = ConfigDict(extra="allow")


class FunctionTool(_Tool):
    type: Literal["function"]
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    defer_loading: bool | None = None


class TextFormat(BaseModel):
    type: Literal["text"]


class GrammarFormat(BaseModel):
    type: Literal["grammar"]
    syntax: Literal["lark", "regex"]
    definition: str


class CustomTool(_Tool):
    """A freeform tool: the model's call carries raw text (a patch, a query), not JSON."""

    type: Literal["custom"]
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    format: Annotated[TextFormat | GrammarFormat, Field(discriminator="type")] | None = None
    defer_loading: bool | None = None


class NamespaceTool(_Tool):
    """A named group of tools; its members are called as ``name`` within ``namespace``."""

    type: Literal["namespace"]
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    tools: list[Annotated[FunctionTool | CustomTool, Field(discriminator="type")]]


class ToolSearchTool(_Tool):
    type: Literal["tool_search"]
    execution: Literal["server", "client"] = "server"
    description: str | None = None
    parameters: dict[str, Any] | None = None


class HybridWeights(BaseModel):
    embedding_weight: float = Field(ge=0)
    text_weight: float = Field(ge=0)


class RankingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ranker: Literal["auto", "default-2024-11-15", "none"] | None = None
    score_threshold: float | None = Field(default=None, ge=0, le=1)
    hybrid_search: HybridWeights | None = None


class FileSearchTool(_Tool):
    """Search over the caller's vector stores (``filters`` are checked when the tool is built)."""

    type: Literal["file_search"]
    vector_store_ids: list[str] = Field(min_length=1)
    filters: dict[str, Any] | None = None
    max_num_results: int | None = Field(default=None, ge=1, le=50)
    ranking_options: RankingOptions | None = None


class WebSearchFilters(_Tool):
    allowed_domains: list[str] | None = Field(default=None, max_length=100)


class UserLocation(_Tool):
    type: Literal["approximate"] = "approximate"
    city: str | None = None
    country: str | None = None
    region: str | None = None
    timezone: str | None = None


class WebSearchTool(_Tool):
    """Hosted web search (``tools/web_search.py``); other options (``search_content_types``) are accepted."""

    type: Literal[
        "web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"
    ]
    search_context_size: Literal["low", "medium", "high"] | None = None
    user_location: UserLocation | None = None
    filters: WebSearchFilters | None = None
    external_web_access: bool | None = None


class McpToolFilter(BaseModel):
    tool_names: list[str] | None = None
    read_only: bool | None = None


class McpApprovalFilter(BaseModel):
    always: McpToolFilter | None = None
    never: McpToolFilter | None = None


class McpTool(_Tool):
    """A remote MCP server's tools (``tools/mcp.py``). ``authorization`` and ``headers`` are used for
    this response only: never stored, never echoed (``exclude``)."""

    type: Literal["mcp"]
    server_label: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    server_url: str | None = None
    connector_id: str | None = None
    server_description: str | None = None
    authorization: str | None = Field(default=None, exclude=True)
    headers: dict[str, str] | None = Field(default=None, exclude=True)
    allowed_tools: list[str] | McpToolFilter | None = None
    require_approval: Literal["always", "never"] | McpApprovalFilter | None = None


def without_credentials(body: dict[str, Any]) -> dict[str, Any]:
    """A request body as it may be kept (a background job's): no ``mcp`` tool's authorization or headers."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return body
    kept = [
        {k: v for k, v in tool.items() if k not in ("authorization", "headers")}
        if isinstance(tool, dict) and tool.get("type") == "mcp"
        else tool
        for tool in tools
    ]
    return {**body, "tools": kept}


Tool = Annotated[
    FunctionTool | CustomTool | NamespaceTool | ToolSearchTool | FileSearchTool | WebSearchTool | McpTool,
    Field(discriminator="type"),
]

UNSUPPORTED_TOOL_TYPES = frozenset(
    {
        "code_interpreter",
        "image_generation",
        "computer_use_preview",
        "computer",
        "local_shell",
        "shell",
        "apply_patch",
    }
)


class FunctionChoice(BaseModel):
    type: Literal["function"]
    name: str


class CustomChoice(BaseModel):
    type: Literal["custom"]
    name: str


class AllowedTools(BaseModel):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"] = "auto"
    tools: list[dict[str, Any]] = Field(min_length=1)


class HostedChoice(BaseModel):
    """Forces a tool Parley runs (OpenAI's ``ToolChoiceTypes``) on the model's first step of a turn."""

    type: Literal[
        "file_search",
        "web_search",
        "web_search_preview",
        "web_search_2025_08_26",
        "web_search_preview_2025_03_11",
    ]


class McpChoice(BaseModel):
    """Forces a remote MCP server's tool (``name``), or any tool of that server."""

    type: Literal["mcp"]
    server_label: str
    name: str | None = None


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[
        FunctionChoice | CustomChoice | AllowedTools | HostedChoice | McpChoice, Field(discriminator="type")
    ]
)

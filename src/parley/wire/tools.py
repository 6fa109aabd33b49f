"""Tool definitions and tool_choice, as the request carries them.

Only client-side ``function`` tools exist in this layer today; built-in tool
types (file_search, web_search, mcp, ...) are named so that a request using one
gets a clear 400 until the tool lands, instead of a silent no-op.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[a-zA-Z0-9_.:-]{1,128}$"


class FunctionTool(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["function"]
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


Tool = Annotated[FunctionTool, Field(discriminator="type")]

BUILTIN_TOOL_TYPES = frozenset(
    {
        "file_search",
        "web_search",
        "web_search_preview",
        "web_search_2025_08_26",
        "web_search_preview_2025_03_11",
        "mcp",
        "code_interpreter",
        "image_generation",
        "computer_use_preview",
        "computer",
        "local_shell",
        "shell",
        "apply_patch",
        "custom",
        "namespace",
        "tool_search",
    }
)


class FunctionChoice(BaseModel):
    type: Literal["function"]
    name: str


class AllowedTools(BaseModel):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"] = "auto"
    tools: list[dict[str, Any]] = Field(min_length=1)


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[FunctionChoice | AllowedTools, Field(discriminator="type")]
)

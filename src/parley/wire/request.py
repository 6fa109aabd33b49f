"""The body of ``POST /v1/responses``.

One typed object that travels whole from the route to the engine (never
re-spelled field by field). Validation errors name the offending ``param`` in
the OpenAI style (``input[2].call_id``).
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from parley.errors import InvalidRequest
from parley.wire import items, tools
from parley.wire.items import InputItem, UserPart
from parley.wire.parameters import (
    CREATE_PARAMETERS,
    check_max_output_tokens,
    check_prompt_reference,
    role_error,
    unknown_parameters,
)
from parley.wire.tool_choice import check_tool_choice
from parley.wire.tools import (
    UNSUPPORTED_TOOL_TYPES,
    Tool,
    ToolChoice,
)


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: Literal["json_schema"]
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


class PlainFormat(BaseModel):
    type: Literal["text", "json_object"]


class TextConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    format: Annotated[PlainFormat | JsonSchemaFormat, Field(discriminator="type")] = PlainFormat(type="text")
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None


class StreamOptions(BaseModel):
    include_obfuscation: bool | None = None


class Prompt(BaseModel):
    """A stored prompt to apply (``engine/prompts.py``); its version is a number, sent as a string."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    version: str | int | None = None
    variables: dict[str, str | UserPart] | None = None


class ContextManagement(BaseModel):
    """``{"type": "compaction", "compact_threshold": N}``: compact the context once it passes N tokens."""

    type: Literal["compaction"]
    compact_threshold: int | None = Field(default=None, ge=1)


class CreateResponseRequest(BaseModel):
    """Top-level names OpenAI does not know are kept aside (``extra_parameters``), not validated: the
    provider's route decides whether they are refused, ignored or passed on (``engine/parameters.py``)."""

    model_config = ConfigDict(extra="ignore")
    _extra: dict[str, Any] = PrivateAttr(default_factory=dict)

    model: str | None = Field(default=None, min_length=1)
    """Optional only with a ``prompt``, whose own model applies then."""
    input: str | list[InputItem] = Field(default_factory=list)
    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool = True
    stream: bool = False
    stream_options: StreamOptions | None = None
    background: bool = False
    metadata: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]] | None = (
        Field(default=None, max_length=16)
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    max_output_tokens: int | None = None
    max_tool_calls: int | None = Field(default=None, ge=1)
    tools: list[Tool] = Field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    parallel_tool_calls: bool = True
    text: TextConfig = Field(default_factory=TextConfig)
    reasoning: ReasoningConfig | None = None
    include: list[
        Literal[
            "reasoning.encrypted_content",
            "message.output_text.logprobs",
            "message.input_image.image_url",
            "file_search_call.results",
            "web_search_call.results",
            "web_search_call.action.sources",
            "computer_call_output.output.image_url",
            "code_interpreter_call.outputs",
        ]
    ] = Field(default_factory=list)
    truncation: Literal["auto", "disabled"] = "disabled"
    user: str | None = None
    safety_identifier: str | None = Field(default=None, max_length=64)
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    conversation: str | dict[str, Any] | None = None
    prompt: Prompt | None = None
    context_management: list[ContextManagement] | None = None

    @model_validator(mode="before")
    @classmethod
    def _reject_unsupported_tools(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("tools"), list):
            for index, tool in enumerate(data["tools"]):
                kind = tool.get("type") if isinstance(tool, dict) else None
                if kind in UNSUPPORTED_TOOL_TYPES:
                    raise InvalidRequest(
                        f"Tool type '{kind}' is not supported by this server yet; supported tool types: "
                        "function, custom, namespace, tool_search, file_search, web_search.",
                        param=f"tools[{index}].type",
                        code="unsupported_tool_type",
                    )
        return data

    @model_validator(mode="before")
    @classmethod
    def _openai_worded(cls, data: Any) -> Any:
        """Mistakes OpenAI answers in words of its own (``wire/parameters.py``)."""
        if isinstance(data, dict):
            check_prompt_reference(data.get("prompt"))
            check_max_output_tokens(data.get("max_output_tokens"))
        return data

    @property
    def extra_parameters(self) -> dict[str, Any]:
        """The body's top-level names OpenAI would not know, with their values."""
        return self._extra

    def keep_extra_parameters(self, extra: dict[str, Any]) -> None:
        self._extra = extra


def parse_create_request(body: Any) -> CreateResponseRequest:
    """Validate a decoded JSON body, turning pydantic's report into one InvalidRequest."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    try:
        request = CreateResponseRequest.model_validate(body, strict=True)
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None
    request.keep_extra_parameters(unknown_parameters(body, CREATE_PARAMETERS))
    if request.background and not request.store:
        raise InvalidRequest(
            "Background responses must be stored: 'background': true needs 'store': true.",
            param="background",
            code="invalid_value",
        )
    if request.model is None and request.prompt is None:
        raise InvalidRequest(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    if request.prompt is None or request.tools:  # else checked once the prompt's tools apply
        check_tool_choice(request)
    if request.conversation is not None:
        conversation_id(request)  # checks its shape
        if request.previous_response_id is not None:
            raise InvalidRequest(
                "Mutually exclusive parameters: Ensure you are only providing one of: "
                "'previous_response_id' or 'conversation'.",
                param="conversation",
                code="mutually_exclusive_parameters",
            )
    return request


def conversation_id(request: CreateResponseRequest) -> str | None:
    """The conversation a request names, as an id or as ``{"id": ...}``."""
    raw = request.conversation
    if raw is None:
        return None
    value = raw.get("id") if isinstance(raw, dict) else raw
    if not isinstance(value, str) or not value:
        raise InvalidRequest(
            "Invalid 'conversation': expected a conversation id or an object with an 'id'.",
            param="conversation",
            code="invalid_value",
        )
    return value


def invalid_from_validation(exc: ValidationError) -> InvalidRequest:
    """The most specific error pydantic found, its location spelled the way OpenAI spells params."""
    errors = exc.errors(include_url=False)
    paths = [_param_path(error["loc"]) for error in errors]
    depth = [path.count(".") + path.count("[") for path in paths]
    best = depth.index(max(depth))
    error, param = errors[best], paths[best]
    if error["type"] == "missing":
        return InvalidRequest(
            f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
        )
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        tag = (error.get("ctx") or {}).get("tag", "")
        if not isinstance(error.get("input"), dict):
            return InvalidRequest(
                f"Invalid type for '{param}': expected an object.", param=param, code="invalid_type"
            )
        if not tag:
            return InvalidRequest(
                f"Missing required parameter: '{param}.type'.",
                param=f"{param}.type",
                code="missing_required_parameter",
            )
        return InvalidRequest(
            f"Invalid value for '{param}.type': unsupported type '{tag}'.",
            param=f"{param}.type",
            code="invalid_value",
        )
    if error["type"] == "literal_error" and param.endswith("role"):
        return role_error(error.get("input"), param)
    if sum(1 for path in paths if path == param) > 1:
        return InvalidRequest(
            f"Invalid type for '{param}': none of the accepted types match.", param=param, code="invalid_type"
        )
    return InvalidRequest(
        f"Invalid value for '{param}': {error['msg']}.", param=param or None, code="invalid_value"
    )


def _type_tags(*modules: ModuleType) -> frozenset[str]:
    """Every ``type`` value of the wire models: the tags of their discriminated unions."""
    tags = {"assistant_message"}  # the item discriminator's own tag for assistant messages
    for module in modules:
        for model in vars(module).values():
            if isinstance(model, type) and issubclass(model, BaseModel) and "type" in model.model_fields:
                tags.update(
                    arg for arg in get_args(model.model_fields["type"].annotation) if isinstance(arg, str)
                )
    return frozenset(tags)


# Tags pydantic inserts into a location after a list index (or a union field) to say which
# union member it tried; they are not part of the parameter's name.
_UNION_TAGS = _type_tags(items, tools, sys.modules[__name__])
_UNION_FIELDS = frozenset({"format", "tool_choice", "input", "content", "output", "tools"})


def _param_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    previous: int | str | None = None
    if "[key]" in loc:  # the key itself is wrong: name the dict, not a value under the bad key
        loc = loc[: loc.index("[key]") - 1]
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif any(c in part for c in "[]'(), ") or part in ("str", "int", "float", "bool"):
            continue  # a label for one member of a plain union: not part of the path, not `previous`
        elif part in _UNION_TAGS and (isinstance(previous, int) or previous in _UNION_FIELDS):
            pass  # a discriminated union's tag
        else:
            path += f".{part}" if path else part
        previous = part
    return path

"""A stored prompt applied to a request: its template becomes a message ahead of the input.

``{{name}}`` placeholders (spaces inside the braces allowed, as the peer's templates write
them) take the request's ``prompt.variables``: strings and ``input_text`` become text,
``input_image`` and ``input_file`` become parts of the message in the placeholder's place.
A text-only template is a ``developer`` message; one carrying an image or a file is a ``user``
message, because chat-completions providers take media only from the user.

The template message joins the context the model sees but not the turn's stored input items,
the way ``instructions`` do: a later response continuing this one (``previous_response_id`` or
``conversation``) gets the template again only by naming the prompt again. Every check runs
before the first event, so a bad prompt reference is an HTTP error naming ``prompt.*``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from parley.errors import InvalidRequest, NotFound, ServiceUnavailable
from parley.ids import new_id
from parley.storage.prompts import PromptStore, PromptVersion
from parley.wire.items import InputFile, InputImage, InputText, Item
from parley.wire.request import CreateResponseRequest, Prompt
from parley.wire.tool_choice import check_tool_choice
from parley.wire.tools import Tool

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_TOOLS: TypeAdapter[list[Tool]] = TypeAdapter(list[Tool])
Part = dict[str, Any]


@dataclass(frozen=True)
class Prompted:
    """The request with the prompt's model and tools filled in, and the template's messages."""

    request: CreateResponseRequest
    model: str
    messages: list[Item]


def placeholders(text: str) -> list[str]:
    """The variable names a template uses, in order of first use."""
    return list(dict.fromkeys(match.group(1) for match in PLACEHOLDER.finditer(text)))


async def apply_prompt(request: CreateResponseRequest, store: PromptStore | None, owner: str) -> Prompted:
    reference = request.prompt
    if reference is None:
        return Prompted(request, _required_model(request.model), [])
    if store is None:
        raise ServiceUnavailable("This server has no prompt store configured.")
    found = await _find(reference, store, owner)
    values = _values(reference, found)
    template = found.template
    update = {
        "model": request.model or template.model,
        "tools": request.tools or _TOOLS.validate_python(template.tools or []),
        "prompt": reference.model_copy(update={"version": str(found.version)}),
    }
    request = request.model_copy(update=update)
    check_tool_choice(request)
    return Prompted(request, _required_model(request.model), [template_message(template.prompt, values)])


def template_message(text: str, values: dict[str, Part]) -> Item:
    """The template as one message, each placeholder replaced by its variable's part."""
    parts: list[Part] = []
    position = 0
    for match in PLACEHOLDER.finditer(text):
        _add_text(parts, text[position : match.start()])
        value = values.get(match.group(1), {"type": "input_text", "text": match.group(0)})
        if value["type"] == "input_text":
            _add_text(parts, value["text"])
        else:
            parts.append(value)
        position = match.end()
    _add_text(parts, text[position:])
    role = "developer" if all(part["type"] == "input_text" for part in parts) else "user"
    content = parts or [{"type": "input_text", "text": ""}]
    return {"id": new_id("msg"), "type": "message", "role": role, "status": "completed", "content": content}


def _add_text(parts: list[Part], text: str) -> None:
    """Append text, joined to the text part before it, so that text stays one part per run."""
    if not text:
        return
    if parts and parts[-1]["type"] == "input_text":
        parts[-1] = {"type": "input_text", "text": parts[-1]["text"] + text}
    else:
        parts.append({"type": "input_text", "text": text})


async def _find(reference: Prompt, store: PromptStore, owner: str) -> PromptVersion:
    """The version asked for, or the prompt's default; a 404 names what does not exist."""
    version = _version_number(reference.version)
    found = await store.get(reference.id, owner, version)
    if found is not None:
        return found
    if version is None or await store.get(reference.id, owner) is None:
        raise NotFound(
            f"Prompt with id '{reference.id}' not found.", param="prompt.id", code="prompt_not_found"
        )
    raise NotFound(
        f"Version '{version}' of prompt '{reference.id}' not found.",
        param="prompt.version",
        code="prompt_version_not_found",
    )


def _version_number(raw: str | int | None) -> int | None:
    if raw is None:
        return None
    text = str(raw)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 2**31 - 1:  # a SQLite integer
        raise InvalidRequest(
            f"Invalid 'prompt.version': expected a version number such as '2', got {raw!r}.",
            param="prompt.version",
            code="invalid_value",
        )
    return int(text)


def _values(reference: Prompt, found: PromptVersion) -> dict[str, Part]:
    """Each variable as a content part, once every variable the version declares is given and
    no other is."""
    given = reference.variables or {}
    declared = found.template.variables
    where = f"prompt '{reference.id}' (version {found.version})"
    for name in given:
        if name not in declared:
            raise InvalidRequest(
                f"Unknown prompt variable '{name}': {where} declares {_names(declared)}.",
                param=f"prompt.variables.{name}",
                code="unknown_prompt_variable",
            )
    for name in declared:
        if name not in given:
            raise InvalidRequest(
                f"Missing prompt variable '{name}': {where} declares {_names(declared)}.",
                param=f"prompt.variables.{name}",
                code="missing_required_parameter",
            )
    return {name: _part(name, value) for name, value in given.items()}


def _names(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names) if names else "no variables"


def _part(name: str, value: str | InputText | InputImage | InputFile) -> Part:
    if isinstance(value, str):
        return {"type": "input_text", "text": value}
    part: Part = value.model_dump(mode="json", exclude_none=True)
    needs = {"input_image": ("image_url", "file_id"), "input_file": ("file_id", "file_data", "file_url")}
    sources = needs.get(part["type"], ())
    if sources and not any(part.get(key) for key in sources):
        raise InvalidRequest(
            f"Invalid 'prompt.variables.{name}': an {part['type']} needs one of {', '.join(sources)}.",
            param=f"prompt.variables.{name}",
            code="invalid_value",
        )
    return part


def _required_model(model: str | None) -> str:
    if model is None:
        raise InvalidRequest(
            "Missing required parameter: 'model' (the request names none, and neither does its prompt).",
            param="model",
            code="missing_required_parameter",
        )
    return model

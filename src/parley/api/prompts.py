"""Routes of ``/v1/prompts``: stored, versioned prompt templates, served as the ogx peer serves
them so that its clients work unchanged.

Shapes and methods follow ``ogx_api/prompts/fastapi_routes.py`` and ``client-sdks/stainless/
config.yml`` of llamastack/llama-stack (ogx): a prompt is ``{"prompt_id", "version", "prompt",
"variables", "is_default"}``; a new version is made by sending the version it replaces (only the
latest may be replaced); lists answer ``{"data": [...]}``; delete answers 204. The peer's current
client updates with PUT and earlier ones with POST, so both are served. Parley adds ``model`` and
``tools``, which a response uses when its request names none, and ``created_at``.

Every check runs before anything is written, so a refused request stores nothing. Unlike the peer,
which answers every failure with 400, a prompt or version that does not exist is a 404.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from parley.api.common import deps, json_body, json_response, principal
from parley.engine.prompts import placeholders
from parley.errors import InvalidRequest, NotFound, ServiceUnavailable
from parley.ids import new_id
from parley.storage.prompts import PromptStore, PromptTemplate
from parley.wire.request import invalid_from_validation
from parley.wire.tools import Tool

Body = TypeVar("Body", bound=BaseModel)
MAX_VERSION = 2**31 - 1
"""Past any version a prompt can have, and within what SQLite stores as an integer."""


class _Template(BaseModel):
    """The body of ``POST /v1/prompts``."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(min_length=1)
    variables: list[Annotated[str, Field(pattern=r"^\w+$")]] | None = None
    model: str | None = Field(default=None, min_length=1)
    tools: list[Tool] | None = None


class _NewVersion(_Template):
    """The body of an update: the template, and the version it replaces."""

    version: int = Field(ge=1, le=MAX_VERSION)
    set_as_default: bool = True


class _DefaultVersion(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = Field(ge=1, le=MAX_VERSION)


def prompt_not_found(prompt_id: str) -> NotFound:
    return NotFound(f"Prompt with id '{prompt_id}' not found.", param="prompt_id", code="prompt_not_found")


def _store(request: Request) -> PromptStore:
    store = deps(request).prompts
    if store is None:
        raise ServiceUnavailable("This server has no prompt store configured.")
    return store


async def _parse(request: Request, model: type[Body]) -> Body:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    try:
        return model.model_validate(body, strict=True)
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None


def _template(body: _Template) -> PromptTemplate:
    """The version to store, once its placeholders are all declared (the peer's rule)."""
    variables = body.variables or []
    repeated = sorted({name for name in variables if variables.count(name) > 1})
    if repeated:
        raise InvalidRequest(
            f"Invalid 'variables': declared more than once: {repeated}.",
            param="variables",
            code="invalid_value",
        )
    undeclared = [name for name in placeholders(body.prompt) if name not in variables]
    if undeclared:
        raise InvalidRequest(
            f"Prompt contains undeclared variables: {undeclared}; declare them in 'variables'.",
            param="variables",
            code="invalid_value",
        )
    tools = None if body.tools is None else [_dump(tool) for tool in body.tools]
    return PromptTemplate(body.prompt, variables, body.model, tools)


def _dump(tool: BaseModel) -> dict[str, Any]:
    return tool.model_dump(mode="json", exclude_none=True, by_alias=True)


def _query_version(request: Request) -> int | None:
    raw = request.query_params.get("version")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_VERSION:
        raise InvalidRequest(
            f"Invalid 'version': expected a version number from 1 to {MAX_VERSION}, got {raw!r}.",
            param="version",
            code="invalid_value",
        )
    return int(raw)


async def _missing(store: PromptStore, prompt_id: str, owner: str, version: int) -> NotFound:
    """Which one names nothing: the prompt's 404 wins over its version's."""
    if await store.get(prompt_id, owner) is None:
        return prompt_not_found(prompt_id)
    return NotFound(
        f"Version '{version}' of prompt '{prompt_id}' not found.",
        param="version",
        code="prompt_version_not_found",
    )


async def create_prompt(request: Request) -> Response:
    template = _template(await _parse(request, _Template))
    created = await _store(request).create(new_id("pmpt"), template, int(time.time()), principal(request))
    return json_response(created.wire())


async def list_prompts(request: Request) -> Response:
    """The default version of each prompt, newest prompt first."""
    found = await _store(request).list(principal(request))
    return json_response({"data": [version.wire() for version in found]})


async def retrieve_prompt(request: Request) -> Response:
    """``?version=N``, or the default version."""
    prompt_id, version = request.path_params["prompt_id"], _query_version(request)
    store, owner = _store(request), principal(request)
    found = await store.get(prompt_id, owner, version)
    if found is None:
        raise (
            prompt_not_found(prompt_id)
            if version is None
            else await _missing(store, prompt_id, owner, version)
        )
    return json_response(found.wire())


async def update_prompt(request: Request) -> Response:
    """A new version, numbered after the one it replaces, which must be the latest."""
    prompt_id = request.path_params["prompt_id"]
    body = await _parse(request, _NewVersion)
    outcome = await _store(request).add_version(
        prompt_id,
        _template(body),
        principal(request),
        replaces=body.version,
        make_default=body.set_as_default,
    )
    if outcome is None:
        raise prompt_not_found(prompt_id)
    if isinstance(outcome, int):
        raise InvalidRequest(
            f"'{body.version}' is not the latest prompt version for prompt_id='{prompt_id}'. "
            f"Use the latest version '{outcome}' in request.",
            param="version",
            code="invalid_value",
        )
    return json_response(outcome.wire())


async def set_default_version(request: Request) -> Response:
    prompt_id = request.path_params["prompt_id"]
    body = await _parse(request, _DefaultVersion)
    store, owner = _store(request), principal(request)
    found = await store.set_default(prompt_id, body.version, owner)
    if found is None:
        raise await _missing(store, prompt_id, owner, body.version)
    return json_response(found.wire())


async def list_versions(request: Request) -> Response:
    """Every version, oldest first, each saying whether it is the default."""
    prompt_id = request.path_params["prompt_id"]
    found = await _store(request).versions(prompt_id, principal(request))
    if found is None:
        raise prompt_not_found(prompt_id)
    return json_response({"data": [version.wire() for version in found]})


async def delete_prompt(request: Request) -> Response:
    """Every version goes; 204 with no body, as the peer answers."""
    prompt_id = request.path_params["prompt_id"]
    if not await _store(request).delete(prompt_id, principal(request)):
        raise prompt_not_found(prompt_id)
    return Response(status_code=204)


routes = [
    Route("/v1/prompts", create_prompt, methods=["POST"]),
    Route("/v1/prompts", list_prompts, methods=["GET"]),
    Route("/v1/prompts/{prompt_id}", retrieve_prompt, methods=["GET"]),
    Route("/v1/prompts/{prompt_id}", update_prompt, methods=["PUT", "POST"]),
    Route("/v1/prompts/{prompt_id}", delete_prompt, methods=["DELETE"]),
    Route("/v1/prompts/{prompt_id}/set-default-version", set_default_version, methods=["PUT", "POST"]),
    Route("/v1/prompts/{prompt_id}/versions", list_versions, methods=["GET"]),
]

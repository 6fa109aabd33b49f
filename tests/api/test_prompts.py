"""``/v1/prompts`` over plain HTTP, in the shapes and methods of the ogx peer's prompts API:
a round trip through every route, and bad requests that answer a clear 400 or 404 and leave
what is stored exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_errors import MISSING, assert_error
from tests.conftest import Harness

Json = dict[str, Any]
TEMPLATE = "You are a {{ role }} assistant. Look at {{photo}}."


async def call(h: Harness, method: str, path: str, body: Any = None) -> Any:
    return await h.client.request(method, path, json=body)


async def created(h: Harness, **body: Any) -> Json:
    r = await call(h, "POST", "/v1/prompts", {"prompt": TEMPLATE, "variables": ["role", "photo"], **body})
    assert r.status_code == 200, r.text
    prompt: Json = r.json()
    return prompt


async def versions(h: Harness, prompt_id: str) -> list[tuple[int, bool]]:
    r = await call(h, "GET", f"/v1/prompts/{prompt_id}/versions")
    assert r.status_code == 200, r.text
    return [(p["version"], p["is_default"]) for p in r.json()["data"]]


async def test_round_trip_through_every_route(harness: Harness) -> None:
    h = harness
    first = await created(h)
    prompt_id = first["prompt_id"]
    assert prompt_id.startswith("pmpt_")
    assert len(prompt_id) == 5 + 48
    assert first | {"created_at": 0} == {
        "prompt_id": prompt_id,
        "version": 1,
        "prompt": TEMPLATE,
        "variables": ["role", "photo"],
        "is_default": True,
        "model": None,
        "tools": None,
        "created_at": 0,
    }
    update = {"prompt": "Be {{role}}.", "variables": ["role"], "version": 1}
    second = (await call(h, "PUT", f"/v1/prompts/{prompt_id}", update)).json()
    assert (second["prompt_id"], second["version"], second["is_default"]) == (prompt_id, 2, True)

    older = (await call(h, "GET", f"/v1/prompts/{prompt_id}?version=1")).json()
    assert (older["version"], older["prompt"], older["is_default"]) == (1, TEMPLATE, False)
    assert (await call(h, "GET", f"/v1/prompts/{prompt_id}")).json() == second

    made_default = await call(h, "PUT", f"/v1/prompts/{prompt_id}/set-default-version", {"version": 1})
    assert made_default.json() == older | {"is_default": True}
    assert await versions(h, prompt_id) == [(1, True), (2, False)]
    listed = (await call(h, "GET", "/v1/prompts")).json()
    assert listed == {"data": [older | {"is_default": True}]}

    r = await call(h, "DELETE", f"/v1/prompts/{prompt_id}")
    assert (r.status_code, r.content) == (204, b"")
    assert_error(
        await call(h, "GET", f"/v1/prompts/{prompt_id}"), 404, param="prompt_id", code="prompt_not_found"
    )
    assert (await call(h, "GET", "/v1/prompts")).json() == {"data": []}


async def test_earlier_peer_clients_update_with_post(harness: Harness) -> None:
    """llama-stack before ogx sent updates and set-default-version as POST."""
    prompt_id = (await created(harness))["prompt_id"]
    update = {"prompt": "Plain.", "version": 1, "set_as_default": False}
    second = (await call(harness, "POST", f"/v1/prompts/{prompt_id}", update)).json()
    assert (second["version"], second["is_default"], second["variables"]) == (2, False, [])
    r = await call(harness, "POST", f"/v1/prompts/{prompt_id}/set-default-version", {"version": 2})
    assert r.json()["is_default"] is True
    assert await versions(harness, prompt_id) == [(1, False), (2, True)]


async def test_model_and_tools_are_stored_with_the_version(harness: Harness) -> None:
    tool = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}
    prompt = await created(harness, model="small-model", tools=[tool])
    assert prompt["model"] == "small-model"
    assert prompt["tools"] == [tool | {"type": "function"}]


PROMPT = "{prompt}"  # stands for the id of the one prompt each case starts with
BAD_REQUESTS = [
    # create
    pytest.param("POST", "/v1/prompts", {"variables": []}, 400, "prompt", MISSING, id="create-no-prompt"),
    pytest.param(
        "POST", "/v1/prompts", {"prompt": 5}, 400, "prompt", "invalid_value", id="create-prompt-number"
    ),
    pytest.param(
        "POST", "/v1/prompts", {"prompt": ""}, 400, "prompt", "invalid_value", id="create-prompt-empty"
    ),
    pytest.param("POST", "/v1/prompts", ["x"], 400, None, "invalid_json", id="create-array-body"),
    pytest.param(
        "POST",
        "/v1/prompts",
        {"prompt": "x", "variables": "role"},
        400,
        "variables",
        "invalid_value",
        id="create-variables-string",
    ),
    pytest.param(
        "POST",
        "/v1/prompts",
        {"prompt": "x", "variables": ["a b"]},
        400,
        "variables[0]",
        "invalid_value",
        id="create-variable-name",
    ),
    pytest.param(
        "POST",
        "/v1/prompts",
        {"prompt": "Hi {{ who }}", "variables": []},
        400,
        "variables",
        "invalid_value",
        id="create-undeclared-variable",
    ),
    pytest.param(
        "POST",
        "/v1/prompts",
        {"prompt": "x", "variables": ["a", "a"]},
        400,
        "variables",
        "invalid_value",
        id="create-repeated-variable",
    ),
    pytest.param(
        "POST",
        "/v1/prompts",
        {"prompt": "x", "tools": [{"type": "code_interpreter"}]},
        400,
        "tools[0].type",
        "invalid_value",
        id="create-unsupported-tool",
    ),
    pytest.param(
        "POST",
        "/v1/prompts",
        {"prompt": "x", "tools": [{"type": "function"}]},
        400,
        "tools[0].name",
        MISSING,
        id="create-tool-without-name",
    ),
    pytest.param(
        "POST", "/v1/prompts", {"prompt": "x", "model": ""}, 400, "model", "invalid_value", id="model-empty"
    ),
    # update
    pytest.param("PUT", PROMPT, {"prompt": "x"}, 400, "version", MISSING, id="update-no-version"),
    pytest.param(
        "PUT", PROMPT, {"prompt": "x", "version": 0}, 400, "version", "invalid_value", id="update-version-0"
    ),
    pytest.param(
        "PUT", PROMPT, {"prompt": "x", "version": "1"}, 400, "version", "invalid_value", id="version-str"
    ),
    pytest.param(
        "PUT", PROMPT, {"prompt": "x", "version": 2}, 400, "version", "invalid_value", id="update-not-latest"
    ),
    pytest.param(
        "PUT",
        PROMPT,
        {"prompt": "{{x}}", "version": 1},
        400,
        "variables",
        "invalid_value",
        id="update-undeclared-variable",
    ),
    pytest.param(
        "PUT",
        "/v1/prompts/pmpt_nope",
        {"prompt": "x", "version": 1},
        404,
        "prompt_id",
        "prompt_not_found",
        id="update-unknown-prompt",
    ),
    # set default
    pytest.param(
        "PUT",
        PROMPT + "/set-default-version",
        {"version": 5},
        404,
        "version",
        "prompt_version_not_found",
        id="default-unknown-version",
    ),
    pytest.param(
        "PUT", PROMPT + "/set-default-version", {}, 400, "version", MISSING, id="default-no-version"
    ),
    pytest.param(
        "PUT",
        "/v1/prompts/pmpt_nope/set-default-version",
        {"version": 1},
        404,
        "prompt_id",
        "prompt_not_found",
        id="default-unknown-prompt",
    ),
    # read and delete
    pytest.param("GET", PROMPT + "?version=abc", None, 400, "version", "invalid_value", id="get-version-abc"),
    pytest.param("GET", PROMPT + "?version=0", None, 400, "version", "invalid_value", id="get-version-0"),
    pytest.param(
        "GET", PROMPT + "?version=9", None, 404, "version", "prompt_version_not_found", id="get-version-9"
    ),
    pytest.param(
        "GET", "/v1/prompts/pmpt_nope", None, 404, "prompt_id", "prompt_not_found", id="get-unknown"
    ),
    pytest.param(
        "GET",
        "/v1/prompts/pmpt_nope/versions",
        None,
        404,
        "prompt_id",
        "prompt_not_found",
        id="versions-unknown",
    ),
    pytest.param(
        "DELETE", "/v1/prompts/pmpt_nope", None, 404, "prompt_id", "prompt_not_found", id="delete-unknown"
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "param", "code"), BAD_REQUESTS)
async def test_bad_requests_are_refused_and_store_nothing(
    harness: Harness, method: str, path: str, body: Any, status: int, param: str | None, code: str
) -> None:
    prompt = await created(harness)
    path = path.replace(PROMPT, f"/v1/prompts/{prompt['prompt_id']}")
    assert_error(await call(harness, method, path, body), status, param=param, code=code)
    assert (await call(harness, "GET", "/v1/prompts")).json() == {"data": [prompt]}
    assert await versions(harness, prompt["prompt_id"]) == [(1, True)]

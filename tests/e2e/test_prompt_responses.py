"""Responses with a stored ``prompt``, through the openai SDK: the template's message reaches the
upstream ahead of the input with its variables filled in (text, and images as image parts), the
version asked for or the default one applies, the prompt's model and tools fill in for the
request's, and a bad reference fails before anything is sent upstream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from parley.testing.fake_upstream import Reply
from tests.conftest import Harness
from tests.e2e.test_conversation_responses import sdk_for

Json = dict[str, Any]
CAT = "https://example.com/cat.png"
PHOTO = {"type": "input_image", "image_url": CAT, "detail": "low"}
V1 = "You are a {{ role }} assistant. Describe {{photo}} briefly."
V2 = "Be {{role}}, always."
LOOKUP: Json = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}


@pytest.fixture
def h(harness_factory: Callable[..., Harness]) -> Harness:
    return harness_factory(lambda body: Reply(text="ok"))


async def http(h: Harness, method: str, path: str, body: Json | None = None) -> Json:
    r = await h.client.request(method, path, json=body)
    assert r.status_code == 200, r.text
    answer: Json = r.json()
    return answer


async def two_versions(h: Harness, **extra: Any) -> str:
    """A prompt with a text and an image variable (version 1) and a text-only version 2, the default."""
    first = await http(h, "POST", "/v1/prompts", {"prompt": V1, "variables": ["role", "photo"], **extra})
    update = {"prompt": V2, "variables": ["role"], "version": 1}
    await http(h, "PUT", f"/v1/prompts/{first['prompt_id']}", update)
    prompt_id: str = first["prompt_id"]
    return prompt_id


def sent(h: Harness) -> list[Json]:
    messages: list[Json] = h.fake.requests[-1]["messages"]
    return messages


async def test_each_version_fills_its_template_ahead_of_the_input(h: Harness) -> None:
    prompt_id = await two_versions(h)
    sdk = sdk_for(h)
    variables: Any = {"role": "helpful", "photo": PHOTO}
    first = await sdk.responses.create(
        model="fake-model",
        input="What is it?",
        prompt={"id": prompt_id, "version": "1", "variables": variables},
    )
    assert sent(h) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "You are a helpful assistant. Describe "},
                {"type": "image_url", "image_url": {"url": CAT, "detail": "low"}},
                {"type": "text", "text": " briefly."},
            ],
        },
        {"role": "user", "content": "What is it?"},
    ]
    assert first.prompt is not None
    assert (first.prompt.id, first.prompt.version) == (prompt_id, "1")
    assert first.prompt.variables is not None
    assert first.prompt.variables["role"] == "helpful"
    photo = first.prompt.variables["photo"]
    assert not isinstance(photo, str)
    assert photo.model_dump(exclude_none=True) == PHOTO

    text_var: Any = {"role": {"type": "input_text", "text": "terse"}}
    second = await sdk.responses.create(
        model="fake-model", input="Hi", prompt={"id": prompt_id, "version": "2", "variables": text_var}
    )
    assert sent(h) == [{"role": "system", "content": "Be terse, always."}, {"role": "user", "content": "Hi"}]
    assert second.prompt is not None
    assert second.prompt.version == "2"
    stored = await sdk.responses.retrieve(second.id)
    assert stored.prompt == second.prompt
    items = await sdk.responses.input_items.list(second.id)
    assert [item.type for item in items.data] == ["message"]  # the template is not an input item


async def test_the_default_version_applies_when_none_is_named(h: Harness) -> None:
    prompt_id = await two_versions(h)
    sdk = sdk_for(h)
    reference: Any = {"id": prompt_id, "variables": {"role": "kind"}}
    latest = await sdk.responses.create(model="fake-model", input="Hi", prompt=reference)
    assert sent(h)[0] == {"role": "system", "content": "Be kind, always."}
    assert latest.prompt is not None
    assert latest.prompt.version == "2"

    await http(h, "PUT", f"/v1/prompts/{prompt_id}/set-default-version", {"version": 1})
    reference["variables"]["photo"] = PHOTO
    events = [
        event
        async for event in await sdk.responses.create(
            model="fake-model", input="Hi", prompt=reference, stream=True
        )
    ]
    assert sent(h)[0]["content"][0] == {"type": "text", "text": "You are a kind assistant. Describe "}
    created, done = events[0], events[-1]
    assert created.type == "response.created"
    assert done.type == "response.completed"
    assert created.response.prompt is not None
    assert created.response.prompt.version == "1"
    assert done.response.prompt == created.response.prompt


async def test_the_prompts_model_and_tools_apply_when_the_request_gives_none(h: Harness) -> None:
    prompt_id = await two_versions(h)
    with_model = await http(
        h,
        "PUT",
        f"/v1/prompts/{prompt_id}",
        {"prompt": "Plain.", "version": 2, "model": "fake-model", "tools": [LOOKUP]},
    )
    sdk = sdk_for(h)
    response = await sdk.responses.create(input="Hi", prompt={"id": prompt_id})
    body = h.fake.requests[-1]
    assert body["model"] == "fake-model"
    assert [tool["function"]["name"] for tool in body["tools"]] == ["lookup"]
    assert response.model == "fake-model"
    assert [tool.type for tool in response.tools] == ["function"]
    assert response.prompt is not None
    assert response.prompt.version == str(with_model["version"])

    mine: Any = {**LOOKUP, "name": "mine"}
    await sdk.responses.create(model="other-model", input="Hi", prompt={"id": prompt_id}, tools=[mine])
    body = h.fake.requests[-1]
    assert body["model"] == "other-model"
    assert [tool["function"]["name"] for tool in body["tools"]] == ["mine"]


async def test_a_prompt_follows_the_history_of_a_continued_response(h: Harness) -> None:
    prompt_id = await two_versions(h)
    sdk = sdk_for(h)
    first = await sdk.responses.create(model="fake-model", input="One")
    reference: Any = {"id": prompt_id, "variables": {"role": "brief"}}
    second = await sdk.responses.create(
        model="fake-model", input="Two", previous_response_id=first.id, prompt=reference
    )
    assert [m["role"] for m in sent(h)] == ["user", "assistant", "system", "user"]
    await sdk.responses.create(model="fake-model", input="Three", previous_response_id=second.id)
    assert "system" not in [m["role"] for m in sent(h)]  # per request, as instructions are


BAD_REFERENCES = [
    pytest.param({"id": "pmpt_nope"}, 404, "prompt.id", id="unknown-prompt"),
    pytest.param({"version": "9", "variables": {"role": "x"}}, 404, "prompt.version", id="unknown-version"),
    pytest.param({"version": "two"}, 400, "prompt.version", id="version-not-a-number"),
    pytest.param({"variables": {}}, 400, "prompt.variables.role", id="missing-variable"),
    pytest.param(
        {"variables": {"role": "x", "tone": "y"}}, 400, "prompt.variables.tone", id="unknown-variable"
    ),
    pytest.param(
        {"version": "1", "variables": {"role": "x"}},
        400,
        "prompt.variables.photo",
        id="missing-image-variable",
    ),
    pytest.param(
        {"variables": {"role": {"type": "input_image"}}},
        400,
        "prompt.variables.role",
        id="image-without-source",
    ),
]


@pytest.mark.parametrize(("reference", "status", "param"), BAD_REFERENCES)
async def test_a_bad_reference_fails_naming_it_before_any_upstream_call(
    h: Harness, reference: Json, status: int, param: str
) -> None:
    prompt_id = await two_versions(h)
    sdk = sdk_for(h)
    error = openai.NotFoundError if status == 404 else openai.BadRequestError
    prompt: Any = {"id": prompt_id, **reference}
    with pytest.raises(error) as raised:
        await sdk.responses.create(model="fake-model", input="Hi", prompt=prompt)
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["param"] == param
    assert "not found" in raised.value.message or status == 400
    assert h.fake.requests == []


async def test_without_a_model_anywhere_the_request_is_refused(h: Harness) -> None:
    prompt_id = await two_versions(h)
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk_for(h).responses.create(input="Hi", prompt={"id": prompt_id, "variables": {"role": "x"}})
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["param"] == "model"
    assert h.fake.requests == []

"""Mistakes answered as OpenAI answers them (issue 16, section 3), through the openai SDK in process.

Each test pins what Parley answered differently before: an unknown ``previous_response_id`` was a
404, a model the provider does not know a retried 502 with the provider's JSON pasted in, an unknown
top-level parameter silently ignored, ``max_output_tokens: 1`` accepted, ``input: []`` "missing", a
bad role answered without ``assistant`` among the valid ones.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.responses import ResponseFailedEvent, response_create_params

from parley.config import ConfigError, ProviderConfig, load_settings
from parley.testing.fake_upstream import Reply
from parley.wire.parameters import COMPACT_PARAMETERS, CREATE_PARAMETERS
from tests.api.test_errors import assert_error, stored_responses
from tests.api.test_websocket import Served, error_of, served, turn
from tests.conftest import Harness

__all__ = ["served"]  # the WebSocket fixture, used here as in test_websocket.py

URL = "http://upstream.test/v1"
OK = Reply(text="ok")


def sdk_for(harness: Harness, max_retries: int = 0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://parley.test/v1", api_key="test", http_client=harness.client, max_retries=max_retries
    )


def error_body(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body
    assert isinstance(body, dict), body
    return body


# --- 1. an unknown previous_response_id: 400 previous_response_not_found ----------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_unknown_previous_response_id_is_a_400(harness: Harness, stream: bool) -> None:
    sdk = sdk_for(harness)
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk.responses.create(
            model="fake-model", input="and then?", previous_response_id="resp_nowhere", stream=stream
        )
    assert raised.value.status_code == 400
    assert error_body(raised.value) == {
        "message": "Previous response with id 'resp_nowhere' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }
    assert harness.fake.requests == []


def test_unknown_previous_response_id_over_websocket(served: Callable[..., Served]) -> None:
    parley = served([])
    with parley.socket() as ws:
        error = error_of(turn(ws, input="and then?", previous_response_id="resp_nowhere"))
    assert error["status"] == 400
    assert error["error"]["code"] == "previous_response_not_found"
    assert error["error"]["param"] == "previous_response_id"
    assert error["error"]["message"] == "Previous response with id 'resp_nowhere' not found."


# --- 2. a model the provider does not know: 404 model_not_found, not retried, no junk stored ----------

UNKNOWN_MODEL_BODIES = [
    pytest.param(
        {
            "object": "error",
            "message": "The model `llama-9` does not exist.",
            "type": "NotFoundError",
            "code": 404,
        },
        id="vllm",
    ),
    pytest.param({"error": {"message": 'model "llama-9" not found, try pulling it first'}}, id="ollama"),
    pytest.param(
        {
            "error": {
                "message": "The model `llama-9` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
        },
        id="openai",
    ),
]


@pytest.mark.parametrize("body", UNKNOWN_MODEL_BODIES)
async def test_unknown_model_is_a_404_not_retried_and_not_stored(
    harness_factory: Callable[..., Harness], body: dict[str, Any]
) -> None:
    h = harness_factory(lambda request: Reply(status=404, error_body=body))
    sdk = sdk_for(h, max_retries=2)  # the SDK's default: it retries a 5xx twice
    with pytest.raises(openai.NotFoundError) as raised:
        await sdk.responses.create(model="llama-9", input="hi")
    error = error_body(raised.value)
    assert (error["code"], error["param"], error["type"]) == (
        "model_not_found",
        "model",
        "invalid_request_error",
    )
    assert "'llama-9'" in error["message"]
    assert "{" not in error["message"], "the provider's raw JSON is not pasted into the message"
    assert len(h.fake.requests) == 1, "a 404 is not retried"
    assert await stored_responses(h) == [], "a request refused before any output leaves nothing stored"


async def test_unknown_model_streamed_ends_failed_and_is_stored(
    harness_factory: Callable[..., Harness],
) -> None:
    body = {"error": {"message": "The model `llama-9` does not exist.", "code": "model_not_found"}}
    h = harness_factory(lambda request: Reply(status=404, error_body=body))
    stream = await sdk_for(h, max_retries=2).responses.create(model="llama-9", input="hi", stream=True)
    events = [event async for event in stream]
    assert [event.type for event in events] == ["response.created", "response.in_progress", "response.failed"]
    last = events[-1]
    assert isinstance(last, ResponseFailedEvent)
    failed = last.response
    assert failed.status == "failed"
    assert failed.error is not None
    assert "'llama-9'" in failed.error.message
    [stored] = await stored_responses(h)
    assert (stored["id"], stored["status"]) == (failed.id, "failed")
    assert len(h.fake.requests) == 1


async def test_a_404_that_names_no_model_stays_the_providers_failure(
    harness_factory: Callable[..., Harness],
) -> None:
    """A base URL missing ``/v1`` answers 404 too: that is the provider set up wrong, not the model."""
    h = harness_factory([Reply(status=404, error_body={"detail": "Not Found"})])
    r = await h.create(input="hi")
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] != "model_not_found"


# --- 3. unknown top-level parameters: OpenAI's 400, or ignored, or passed on as vendor extensions -----


@pytest.mark.parametrize("stream", [False, True])
async def test_unknown_parameter_is_a_400_naming_it(harness: Harness, stream: bool) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk_for(harness).responses.create(
            model="fake-model", input="hi", stream=stream, extra_body={"max_tokens": 5}
        )
    assert error_body(raised.value) == {
        "message": "Unknown parameter: 'max_tokens'.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unknown_parameter",
    }
    assert harness.fake.requests == []
    assert await stored_responses(harness) == []


def test_every_parameter_of_openais_create_is_known() -> None:
    """Refusing a field OpenAI takes would break the SDK: each one is known, served or ignored."""
    sdk_create = set(response_create_params.ResponseCreateParamsBase.__annotations__) | {"stream"}
    assert sdk_create <= CREATE_PARAMETERS, sdk_create - CREATE_PARAMETERS
    sdk_compact = set(openai.types.responses.response_compact_params.ResponseCompactParams.__annotations__)
    assert sdk_compact <= COMPACT_PARAMETERS, sdk_compact - COMPACT_PARAMETERS


async def test_every_parameter_of_openais_create_is_accepted(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([OK])
    body = {
        "model": "fake-model",
        "input": "hi",
        "frequency_penalty": 0.5,
        "presence_penalty": 0.5,
        "prompt_cache_retention": "24h",
        "client_metadata": {"x-codex-turn": "1"},
        "image": {},
        "moderation": {},
        "access_programs": [],
    }
    r = await h.client.post("/v1/responses", json=body)
    assert r.status_code == 200, r.text


async def test_unknown_parameter_in_a_compact_request(harness: Harness) -> None:
    body = {"model": "fake-model", "input": "hi", "max_tokens": 5}
    r = await harness.client.post("/v1/responses/compact", json=body)
    error = assert_error(r, 400, param="max_tokens", code="unknown_parameter")
    assert error["message"] == "Unknown parameter: 'max_tokens'."


@pytest.mark.parametrize(("policy", "status"), [("error", 400), ("ignore", 200)])
async def test_unknown_parameter_in_a_conversation_create(
    harness_factory: Callable[..., Harness], policy: str, status: int
) -> None:
    h = harness_factory(unknown_parameters=policy)
    r = await h.client.post("/v1/conversations", json={"metadata": {}, "itemz": []})
    if status == 400:
        assert_error(r, 400, param="itemz", code="unknown_parameter")
    else:
        assert r.status_code == 200, r.text


async def test_ignored_per_deployment_and_logged_once(
    harness_factory: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    name = f"future_field_{uuid.uuid4().hex[:8]}"
    h = harness_factory([OK, OK], unknown_parameters="ignore")
    sdk = sdk_for(h)
    with caplog.at_level(logging.WARNING, logger="parley.engine.parameters"):
        for _ in range(2):
            response = await sdk.responses.create(model="fake-model", input="hi", extra_body={name: True})
            assert response.status == "completed"
    assert len([record for record in caplog.records if name in record.getMessage()]) == 1
    assert all(name not in request for request in h.fake.requests), "an ignored name is not sent on"


async def test_the_policy_is_per_provider_route(harness_factory: Callable[..., Harness]) -> None:
    providers = (
        ProviderConfig("lax", URL, models=("lax-*",), unknown_parameters="ignore"),
        ProviderConfig("strict", URL),
    )
    h = harness_factory([OK], providers=providers)
    sdk = sdk_for(h)
    lax = await sdk.responses.create(model="lax-1", input="hi", extra_body={"max_tokens": 5})
    assert lax.status == "completed"
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk.responses.create(model="other", input="hi", extra_body={"max_tokens": 5})
    assert error_body(raised.value)["code"] == "unknown_parameter"


async def test_a_provider_may_refuse_where_the_deployment_ignores(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory(
        providers=(ProviderConfig("default", URL, unknown_parameters="error"),), unknown_parameters="ignore"
    )
    r = await h.create(input="hi", max_tokens=5)
    assert_error(r, 400, param="max_tokens", code="unknown_parameter")


async def test_vendor_extensions_the_provider_lists_reach_its_chat_request(
    harness_factory: Callable[..., Harness],
) -> None:
    vllm = ProviderConfig("vllm", URL, extra_parameters=("guided_choice", "chat_template_kwargs"))
    h = harness_factory([OK], providers=(vllm,))
    sdk = sdk_for(h)
    extensions = {"guided_choice": ["yes", "no"], "chat_template_kwargs": {"enable_thinking": False}}
    response = await sdk.responses.create(model="qwen3", input="Is it?", extra_body=extensions)
    assert response.status == "completed"
    [sent] = h.fake.requests
    assert {key: sent[key] for key in extensions} == extensions
    assert sent["model"] == "qwen3"

    with pytest.raises(openai.BadRequestError) as raised:  # one it does not list is still refused
        await sdk.responses.create(
            model="qwen3", input="Is it?", extra_body={**extensions, "guided_regex": "y"}
        )
    assert error_body(raised.value)["param"] == "guided_regex"
    assert len(h.fake.requests) == 1


def test_unknown_parameter_over_websocket(served: Callable[..., Served]) -> None:
    parley = served([OK])
    with parley.socket() as ws:
        error = error_of(turn(ws, input="hi", max_tokens=5))
        recovered = turn(ws, input="hi")
    assert error["status"] == 400
    assert (error["error"]["code"], error["error"]["param"]) == ("unknown_parameter", "max_tokens")
    assert recovered[-1]["type"] == "response.completed"


def test_settings_file_env_and_flags(tmp_path: Path) -> None:
    config = tmp_path / "parley.toml"
    config.write_text(
        'unknown_parameters = "ignore"\n'
        "[[providers]]\n"
        'name = "vllm"\nurl = "http://localhost:8000/v1"\n'
        'unknown_parameters = "error"\nextra_parameters = ["guided_choice", "chat_template_kwargs"]\n'
    )
    settings = load_settings({"config": str(config)}, environ={})
    assert settings.unknown_parameters == "ignore"
    [vllm] = settings.providers
    assert (vllm.unknown_parameters, vllm.extra_parameters) == (
        "error",
        ("guided_choice", "chat_template_kwargs"),
    )
    assert load_settings({}, environ={}).unknown_parameters == "error"
    assert load_settings({}, environ={"PARLEY_UNKNOWN_PARAMETERS": "ignore"}).unknown_parameters == "ignore"
    assert load_settings({"unknown_parameters": "ignore"}, environ={}).unknown_parameters == "ignore"
    with pytest.raises(ConfigError, match="unknown_parameters must be 'error' or 'ignore'"):
        load_settings({"unknown_parameters": "drop"}, environ={})
    config.write_text('[[providers]]\nurl = "http://x/v1"\nextra_parameters = "guided_choice"\n')
    with pytest.raises(ConfigError, match=r"providers\[0\]\.extra_parameters"):
        load_settings({"config": str(config)}, environ={})


# --- 4. max_output_tokens below OpenAI's minimum of 16 ------------------------------------------------


async def test_max_output_tokens_below_16_is_a_400(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([OK])
    sdk = sdk_for(h)
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk.responses.create(model="fake-model", input="hi", max_output_tokens=15)
    assert error_body(raised.value) == {
        "message": "Invalid 'max_output_tokens': integer below minimum value. "
        "Expected a value >= 16, but got 15 instead.",
        "type": "invalid_request_error",
        "param": "max_output_tokens",
        "code": "integer_below_min_value",
    }
    assert h.fake.requests == []
    response = await sdk.responses.create(model="fake-model", input="hi", max_output_tokens=16)
    assert response.max_output_tokens == 16


# --- 5. messages that say what is actually wrong -------------------------------------------------------


async def test_empty_input_says_it_is_empty(harness: Harness) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk_for(harness).responses.create(model="fake-model", input=[])
    error = error_body(raised.value)
    assert (error["code"], error["param"]) == ("empty_array", "input")
    assert error["message"].startswith("Invalid 'input': empty array.")
    r = await harness.client.post("/v1/responses", json={"model": "fake-model"})
    assert_error(r, 400, param="input", code="missing_required_parameter")


async def test_empty_input_continuing_a_response_is_fine(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([OK, OK])
    sdk = sdk_for(h)
    first = await sdk.responses.create(model="fake-model", input="hi")
    second = await sdk.responses.create(model="fake-model", input=[], previous_response_id=first.id)
    assert second.status == "completed"


async def test_a_prompt_string_says_the_text_goes_in_input(harness: Harness) -> None:
    r = await harness.client.post("/v1/responses", json={"model": "fake-model", "prompt": "Say hi."})
    error = assert_error(r, 400, param="prompt", code="invalid_type")
    assert "stored prompt" in error["message"]
    assert "'input'" in error["message"]


ROLE_MESSAGE = (
    "Invalid value: 'wizard'. Supported values are: 'assistant', 'system', 'developer', and 'user'."
)


@pytest.mark.parametrize(
    "item",
    [
        pytest.param({"role": "wizard", "content": "hi"}, id="easy-message"),
        pytest.param({"type": "message", "role": "wizard", "content": "hi"}, id="typed-message"),
    ],
)
async def test_a_bad_role_lists_assistant_among_the_valid_ones(
    harness: Harness, item: dict[str, Any]
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk_for(harness).responses.create(model="fake-model", input=[item])  # type: ignore[list-item]
    error = error_body(raised.value)
    assert (error["message"], error["param"], error["code"]) == (
        ROLE_MESSAGE,
        "input[0].role",
        "invalid_value",
    )

"""Structured output on servers that cannot enforce a JSON Schema: the nearest form they read, the
schema in an instruction, the answer checked (one retry, then a failed response); schemas refused
before any provider is asked; and the provider settings of the config file that choose all this."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from parley.config import ConfigError, ProviderConfig, load_settings
from parley.testing.fake_upstream import Reply
from tests.api.test_errors import assert_error, stored_responses
from tests.api.test_server_profiles import (
    JSON_SCHEMA,
    LLAMA_CPP_PYTHON,
    SCHEMA,
    URL,
    stream,
    system_text,
    text_deltas,
)
from tests.conftest import Harness

Json = dict[str, Any]
VALID = '{"city": "Paris"}'
SCHEMA_TEXT = orjson.dumps(SCHEMA).decode()


def output_text(response: Json) -> str:
    return "".join(
        part["text"] for item in response["output"] if item["type"] == "message" for part in item["content"]
    )


async def test_the_schema_goes_in_llama_cpp_pythons_form(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text=VALID)], providers=(LLAMA_CPP_PYTHON,))
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA})
    assert r.status_code == 200, r.text
    sent = h.fake.requests[0]
    assert sent["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert SCHEMA_TEXT in system_text(sent)
    assert output_text(r.json()) == VALID


async def test_invalid_json_is_asked_again(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Sure! {city: Paris"), Reply(text=VALID)], providers=(LLAMA_CPP_PYTHON,))
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed"
    assert output_text(r.json()) == VALID
    retry = h.fake.requests[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "Sure! {city: Paris"}
    assert retry[-1]["role"] == "user"
    assert retry[-1]["content"].startswith("Your answer is not valid JSON.")
    assert SCHEMA_TEXT in retry[-1]["content"]


async def test_a_schema_mismatch_twice_fails_naming_it(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(
        [Reply(text='{"city": 3}'), Reply(text='{"town": "Paris"}')], providers=(LLAMA_CPP_PYTHON,)
    )
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA})
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert error["code"] == "model_output_invalid"
    assert "does not match the schema at the root: 'city' is a required property, twice" in error["message"]
    assert "does not match the schema at city" in h.fake.requests[1]["messages"][-1]["content"]
    [stored] = await stored_responses(h)
    assert stored["status"] == "failed"


async def test_an_answer_cut_at_the_token_limit_is_incomplete_not_checked(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text='{"city": "Pa', finish_reason="length")], providers=(LLAMA_CPP_PYTHON,))
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA}, max_output_tokens=16)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})
    assert output_text(body) == '{"city": "Pa'
    assert len(h.fake.requests) == 1  # not asked again


async def test_the_second_ask_gets_what_is_left_of_the_token_limit(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="not json at all"), Reply(text=VALID)], providers=(LLAMA_CPP_PYTHON,))
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA}, max_output_tokens=100)
    assert r.status_code == 200, r.text
    first, second = h.fake.requests
    spent = r.json()["usage"]["output_tokens"] - len(VALID.split())  # the fake counts words
    assert spent > 0
    assert first["max_tokens"] == 100
    assert second["max_tokens"] == 100 - spent


async def test_streaming_holds_an_invalid_answer_back(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Sure! {city: Paris"), Reply(text=VALID)], providers=(LLAMA_CPP_PYTHON,))
    events = await stream(h, input="Where?", text={"format": JSON_SCHEMA})
    assert events[-1]["type"] == "response.completed"
    assert "".join(text_deltas(events)) == VALID
    assert "Sure" not in str(events)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


async def test_a_server_with_no_structured_output_gets_an_instruction(
    harness_factory: Callable[..., Harness],
) -> None:
    provider = ProviderConfig("default", URL, capabilities={"response_format": "none"})
    h = harness_factory([Reply(text=VALID)], providers=(provider,))
    r = await h.create(input="Where?", instructions="Be brief.", text={"format": JSON_SCHEMA})
    assert r.status_code == 200, r.text
    sent = h.fake.requests[0]
    assert "response_format" not in sent
    instruction = system_text(sent)
    assert instruction.startswith("Be brief.\n\n")
    assert f"matches this JSON Schema: {SCHEMA_TEXT}" in instruction


async def test_plain_json_object_form_keeps_the_check(harness_factory: Callable[..., Harness]) -> None:
    provider = ProviderConfig("default", URL, capabilities={"response_format": "json_object"})
    h = harness_factory([Reply(text='{"town": "Paris"}'), Reply(text=VALID)], providers=(provider,))
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA})
    assert r.status_code == 200, r.text
    assert h.fake.requests[0]["response_format"] == {"type": "json_object"}
    assert output_text(r.json()) == VALID
    assert len(h.fake.requests) == 2


async def test_tgi_takes_the_schema_as_a_json_value(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text=VALID)], providers=(ProviderConfig("default", URL, server="tgi"),))
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA})
    assert r.status_code == 200, r.text
    assert h.fake.requests[0]["response_format"] == {"type": "json", "value": SCHEMA}


async def test_tgi_with_tools_gets_the_schema_as_an_instruction(
    harness_factory: Callable[..., Harness],
) -> None:
    """TGI refuses a grammar and tools together: with tools offered the schema is only asked for."""
    tgi = ProviderConfig("default", URL, server="tgi")
    h = harness_factory([Reply(text="Paris?"), Reply(text=VALID)], providers=(tgi,))
    weather = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA}, tools=[weather])
    assert r.status_code == 200, r.text
    sent = h.fake.requests[0]
    assert "response_format" not in sent
    assert sent["tools"]
    assert SCHEMA_TEXT in system_text(sent)
    assert output_text(r.json()) == VALID  # the prose answer was checked and asked again


async def test_tgi_is_sent_no_parallel_tool_calls(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Hi.")], providers=(ProviderConfig("default", URL, server="tgi"),))
    tool = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
    assert (await h.create(input="Hi", tools=[tool])).status_code == 200
    assert "parallel_tool_calls" not in h.fake.requests[0]
    assert "tools" in h.fake.requests[0]


async def test_json_object_with_no_structured_output_is_checked(
    harness_factory: Callable[..., Harness],
) -> None:
    provider = ProviderConfig("default", URL, capabilities={"response_format": "none"})
    h = harness_factory([Reply(text="[1, 2]"), Reply(text='{"a": 1}')], providers=(provider,))
    r = await h.create(input="Answer in JSON.", text={"format": {"type": "json_object"}})
    assert r.status_code == 200, r.text
    first, second = h.fake.requests
    assert "response_format" not in first
    assert "Answer with a JSON object only" in system_text(first)
    assert second["messages"][-1]["content"].startswith("Your answer is not a JSON object.")
    assert output_text(r.json()) == '{"a": 1}'


async def test_json_object_where_the_server_reads_it_is_not_checked(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="[1, 2]")], providers=(LLAMA_CPP_PYTHON,))
    r = await h.create(input="Answer in JSON.", text={"format": {"type": "json_object"}})
    assert r.status_code == 200, r.text
    assert h.fake.requests[0]["response_format"] == {"type": "json_object"}
    assert len(h.fake.requests) == 1


# --- schemas refused ------------------------------------------------------------------------------

BAD_SCHEMA = {"type": "json_schema", "name": "place", "schema": {"type": "nonsense"}}


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
async def test_an_invalid_schema_is_refused_before_the_provider(
    harness_factory: Callable[..., Harness], streamed: bool
) -> None:
    h = harness_factory([Reply(text=VALID)])
    r = await h.create(input="Where?", text={"format": BAD_SCHEMA}, stream=streamed)
    error = assert_error(r, 400, param="text.format.schema", code="invalid_json_schema")
    assert "nonsense" in error["message"]
    assert h.fake.requests == []
    assert await stored_responses(h) == []


def refusal(status: int, message: str) -> Reply:
    return Reply(status=status, error_body={"error": {"message": message, "type": "invalid_request_error"}})


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            refusal(400, "Invalid schema for response_format 'place': 'format' is not permitted."),
            id="openai",
        ),
        pytest.param(
            refusal(422, "response_format.type: Input should be 'text' or 'json_object'"),
            id="llama-cpp-python",
        ),
    ],
)
async def test_a_provider_refusing_the_schema_is_the_callers_400(
    harness_factory: Callable[..., Harness], answer: Reply
) -> None:
    h = harness_factory([answer], providers=(ProviderConfig("default", URL, server="vllm"),))
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA})
    error = assert_error(r, 400, param="text.format.schema", code="invalid_json_schema")
    assert "the provider refused it" in error["message"]


async def test_a_provider_400_about_something_else_stays_502(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([refusal(400, "temperature is not supported with this model.")])
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA})
    error = assert_error(r, 502, type_="upstream_error", param=None)
    assert "temperature is not supported" in error["message"]


# --- the config file ------------------------------------------------------------------------------


def config_file(tmp_path: Path, lines: str) -> dict[str, str]:
    path = tmp_path / "parley.toml"
    path.write_text(f'[[providers]]\nname = "local"\nurl = "{URL}"\n{lines}')
    return {"config": str(path)}


async def test_the_config_file_sets_server_and_capabilities(
    tmp_path: Path, harness_factory: Callable[..., Harness]
) -> None:
    flags = config_file(
        tmp_path, 'server = "ollama"\nstream_usage = false\nresponse_format = "json_object"\n'
    )
    [provider] = load_settings(flags, environ={}).providers
    assert provider.server == "ollama"
    assert dict(provider.capabilities) == {"stream_usage": False, "response_format": "json_object"}
    h = harness_factory([Reply(text=VALID)], providers=(provider,))
    assert (await h.create(input="Where?", text={"format": JSON_SCHEMA})).status_code == 200
    sent = h.fake.requests[0]
    assert sent["response_format"] == {"type": "json_object"}  # the setting, over ollama's json_schema
    assert "stream_options" not in sent
    assert h.fake.asked == []


def test_server_auto_is_recognised_at_first_contact(tmp_path: Path) -> None:
    [provider] = load_settings(config_file(tmp_path, 'server = "auto"\n'), environ={}).providers
    assert provider.server is None
    assert dict(provider.capabilities) == {}


@pytest.mark.parametrize(
    ("lines", "named"),
    [
        pytest.param('colour = "red"\n', "'colour' is not a provider capability", id="unknown-key"),
        pytest.param('stream_usage = "yes"\n', "'stream_usage' must be true or false", id="not-a-bool"),
        pytest.param('response_format = "xml"\n', "'response_format' must be one of", id="bad-choice"),
        pytest.param("summary_model_x = 1\n", "'summary_model_x'", id="near-miss"),
        pytest.param('server = "nope"\n', r"providers\[0\]\.server must be one of", id="unknown-server"),
    ],
)
def test_bad_provider_settings_are_named(tmp_path: Path, lines: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(config_file(tmp_path, lines), environ={})

"""Recognising a server from its real ``GET /models`` answer, checking capability settings, and the
chat body rewrites each missing capability makes (``fit_to_server``)."""

from __future__ import annotations

from typing import Any

import pytest

from parley.engine.server_fit import Expectation, fit_to_server
from parley.providers.profiles import (
    GENERIC,
    SERVERS,
    SETTABLE,
    check_capability,
    profile,
    recognise,
    server_of_url,
)

Json = dict[str, Any]

# Each server's model list as it really answers (see the research notes on each server's source).
VLLM: Json = {"object": "list", "data": [{
    "id": "qwen", "object": "model", "created": 1764460000, "owned_by": "vllm", "root": "/models/qwen",
    "parent": None, "max_model_len": 32768, "permission": [{
        "id": "modelperm-1f2e", "object": "model_permission", "created": 1764460000,
        "allow_create_engine": False, "allow_sampling": True, "allow_logprobs": True,
        "allow_search_indices": False, "allow_view": True, "allow_fine_tuning": False,
        "organization": "*", "group": None, "is_blocking": False}]}]}  # fmt: skip
LLAMA_SERVER: Json = {"object": "list", "data": [{
    "id": "qwen.gguf", "object": "model", "created": 1764460000, "owned_by": "llamacpp",
    "meta": {"vocab_type": 2, "n_vocab": 151936, "n_ctx_train": 32768, "n_embd": 2048,
             "n_params": 1000000, "size": 2000000}}]}  # fmt: skip
LLAMA_SERVER_ROUTER: Json = {"object": "list", "data": [{
    "id": "qwen", "aliases": ["q"], "object": "model", "owned_by": "llamacpp", "created": 1764460000,
    "status": {"value": "loaded", "args": []}}]}  # fmt: skip
LLAMA_CPP_PYTHON: Json = {"object": "list", "data": [
    {"id": "qwen", "object": "model", "owned_by": "me", "permissions": []}]}  # fmt: skip
OLLAMA: Json = {"object": "list", "data": [
    {"id": "llama3.2:latest", "object": "model", "created": 1764400000, "owned_by": "library"}]}  # fmt: skip
LM_STUDIO: Json = {"object": "list", "data": [
    {"id": "qwen2.5-7b-instruct", "object": "model", "owned_by": "organization_owner"}]}  # fmt: skip
SGLANG: Json = {"object": "list", "data": [{
    "id": "qwen", "object": "model", "created": 1764460000, "owned_by": "sglang", "root": "qwen",
    "parent": None, "max_model_len": 32768}]}  # fmt: skip
TGI: Json = {"object": "list", "data": [
    {"id": "HuggingFaceH4/zephyr-7b-beta", "object": "model", "created": 0,
     "owned_by": "HuggingFaceH4/zephyr-7b-beta"}]}  # fmt: skip
OPENAI: Json = {"object": "list", "data": [
    {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"}]}  # fmt: skip


@pytest.mark.parametrize(
    ("models", "server"),
    [
        pytest.param(VLLM, "vllm", id="vllm"),
        pytest.param(LLAMA_SERVER, "llama-server", id="llama-server"),
        pytest.param(LLAMA_SERVER_ROUTER, "llama-server", id="llama-server-router"),
        pytest.param(LLAMA_CPP_PYTHON, "llama-cpp-python", id="llama-cpp-python"),
        pytest.param(OLLAMA, "ollama", id="ollama"),
        pytest.param(
            {"data": [{"id": "bob/tuned:latest", "owned_by": "bob"}, {"id": "qwen3:8b", "owned_by": "ann"}]},
            "ollama",
            id="ollama-a-namespace-of-its-own",
        ),
        pytest.param(
            {"data": [{"id": "bob/tuned:latest", "owned_by": "bob"}, {"id": "gpt-4o"}]},
            "generic",
            id="some-ids-untagged",
        ),
        pytest.param({"data": [{"id": "model:8000", "owned_by": "x"}]}, "generic", id="a-port-is-no-tag"),
        pytest.param(LM_STUDIO, "lm-studio", id="lm-studio"),
        pytest.param(SGLANG, "sglang", id="sglang"),
        pytest.param(TGI, "tgi", id="tgi"),
        pytest.param(OPENAI, "generic", id="openai-or-a-proxy"),
        pytest.param({"object": "list", "data": None}, "generic", id="ollama-with-no-models"),
        pytest.param({"object": "list", "data": []}, "generic", id="empty"),
        pytest.param([], "generic", id="not-an-object"),
        pytest.param({"data": ["qwen", 3]}, "generic", id="entries-not-objects"),
    ],
)
def test_recognise_each_servers_model_list(models: Any, server: str) -> None:
    assert recognise(models) == server


def test_tgi_needs_created_zero_too() -> None:
    entry = {**TGI["data"][0], "created": 1764460000}
    assert recognise({"data": [entry]}) == "generic"


def test_a_later_entry_can_name_the_server() -> None:
    assert recognise({"data": [{"id": "x", "owned_by": "someone"}, *SGLANG["data"]]}) == "sglang"


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("https://api.openai.com/v1", "openai"),
        ("https://API.OpenAI.com/v1/", "openai"),
        ("https://mine.openai.azure.com/openai/v1", "openai"),
        ("http://localhost:8000/v1", None),
        ("https://api.openai.com.evil.test/v1", None),
    ],
)
def test_server_of_url(url: str, server: str | None) -> None:
    assert server_of_url(url) == server


def test_profile_is_the_row_with_overrides() -> None:
    row = profile("llama-cpp-python", {"stream_usage": True})
    assert row.stream_usage is True
    assert row.response_format == "json_object_schema"
    assert row.tool_choice_required is False
    assert row.server == "llama-cpp-python"
    assert profile("nope") == GENERIC
    assert profile("generic", {"tokenizer": "vllm"}).tokenizer == "vllm"
    assert SERVERS["llama-cpp-python"].stream_usage is False  # the table itself untouched


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("stream_usage", False),
        ("response_format", "json_value"),
        ("tokenizer", "sglang"),
        ("reasoning_field", "reasoning"),
        ("tool_choice_named", True),
    ],
)
def test_check_capability_takes_good_values(name: str, value: Any) -> None:
    assert check_capability(name, value) == value


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("colour", "red", "'colour' is not a provider capability"),
        ("server", "vllm", "'server' is not a provider capability"),
        ("summary_model", "m", "'summary_model' is not a provider capability"),
        ("stream_usage", "false", "'stream_usage' must be true or false, got 'false'"),
        ("stream_usage", 0, "must be true or false"),
        ("response_format", "xml", "'response_format' must be one of json_schema, json_object_schema"),
        ("tokenizer", True, "'tokenizer' must be one of"),
    ],
)
def test_check_capability_says_what_is_wrong(name: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_capability(name, value)


def test_every_settable_capability_is_checkable() -> None:
    for name in SETTABLE:
        value = getattr(GENERIC, name)
        assert check_capability(name, value) == value


# --- fit_to_server ---------------------------------------------------------------------------------


def fn(name: str) -> Json:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA, "strict": True}}


def body(**extra: Any) -> Json:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "stream_options": {"include_usage": True}, **extra}  # fmt: skip


def with_caps(**caps: Any) -> Any:
    return profile("generic", caps)


def test_generic_changes_nothing() -> None:
    sent = body(tools=[fn("a"), fn("b")], tool_choice="required", parallel_tool_calls=False,
                response_format=JSON_SCHEMA)  # fmt: skip
    # the body goes as it is; the call is checked once the answer is in (the server was asked for one)
    assert fit_to_server(sent, GENERIC) == (sent, Expectation("", call=True))
    assert fit_to_server({**sent, "tool_choice": "auto"}, GENERIC) == ({**sent, "tool_choice": "auto"}, None)


def test_no_stream_usage_and_no_parallel_drop_their_fields() -> None:
    sent = body(parallel_tool_calls=True)
    fitted, expected = fit_to_server(sent, with_caps(stream_usage=False, parallel_tool_calls=False))
    assert "stream_options" not in fitted
    assert "parallel_tool_calls" not in fitted
    assert expected is None
    assert "stream_options" in sent  # the caller's body is not changed


def test_a_server_refusing_stream_options_is_not_sent_them() -> None:
    fitted, expected = fit_to_server(body(), with_caps(stream_options=False))
    assert "stream_options" not in fitted
    assert expected is None


def test_required_with_one_tool_is_named() -> None:
    fitted, expected = fit_to_server(
        body(tools=[fn("a")], tool_choice="required"), SERVERS["llama-cpp-python"]
    )
    assert fitted["tool_choice"] == {"type": "function", "function": {"name": "a"}}
    assert expected == Expectation("", call=True)  # enforced by the server, checked at the end
    assert expected.enforced


def test_required_with_two_tools_is_instructed_and_checked() -> None:
    fitted, expected = fit_to_server(
        body(tools=[fn("a"), fn("b")], tool_choice="required"), SERVERS["llama-cpp-python"]
    )
    assert fitted["tool_choice"] == "auto"
    assert expected is not None
    assert expected.call
    assert not expected.json
    assert fitted["messages"][0] == {"role": "system", "content": expected.instruction}
    assert "(a, b)" in expected.instruction


def test_named_choice_unenforced_narrows_the_tools() -> None:
    sent = body(tools=[fn("a"), fn("b")], tool_choice={"type": "function", "function": {"name": "b"}})
    fitted, expected = fit_to_server(sent, with_caps(tool_choice_named=False))
    assert fitted["tools"] == [fn("b")]
    assert fitted["tool_choice"] == "required"
    assert expected == Expectation("", call=True)
    fitted, expected = fit_to_server(sent, SERVERS["ollama"])  # "required" not enforced either
    assert fitted["tools"] == [fn("b")]
    assert fitted["tool_choice"] == "auto"
    assert expected is not None
    assert expected.call


@pytest.mark.parametrize(
    ("form", "sent"),
    [
        ("json_object_schema", {"type": "json_object", "schema": SCHEMA}),
        ("json_value", {"type": "json", "value": SCHEMA}),
        ("json_object", {"type": "json_object"}),
        ("none", None),
    ],
)
def test_json_schema_in_each_form(form: str, sent: Json | None) -> None:
    fitted, expected = fit_to_server(body(response_format=JSON_SCHEMA), with_caps(response_format=form))
    assert fitted.get("response_format") == sent
    assert expected is not None
    assert expected.json
    assert expected.schema == SCHEMA
    assert '{"type":"object","properties":{"a":{"type":"integer"}}}' in fitted["messages"][0]["content"]


@pytest.mark.parametrize(
    ("form", "sent", "checked"),
    [
        ("json_object_schema", {"type": "json_object"}, False),
        ("json_object", {"type": "json_object"}, False),
        ("json_value", {"type": "json", "value": {"type": "object"}}, False),
        ("none", None, True),
    ],
)
def test_json_object_in_each_form(form: str, sent: Json | None, checked: bool) -> None:
    fitted, expected = fit_to_server(
        body(response_format={"type": "json_object"}), with_caps(response_format=form)
    )
    assert fitted.get("response_format") == sent
    assert (expected is not None) == checked
    if expected is not None:
        assert expected.json
        assert expected.schema is None


def test_the_instruction_joins_a_system_message_of_either_shape() -> None:
    caps = with_caps(response_format="none")
    text_head = body(response_format=JSON_SCHEMA, messages=[{"role": "developer", "content": "Be brief."}])
    fitted, expected = fit_to_server(text_head, caps)
    assert expected is not None
    assert fitted["messages"] == [{"role": "developer", "content": f"Be brief.\n\n{expected.instruction}"}]
    parts_head = body(
        response_format=JSON_SCHEMA, messages=[{"role": "system", "content": [{"type": "text", "text": "A"}]}]
    )
    fitted, _ = fit_to_server(parts_head, caps)
    assert fitted["messages"][0]["content"] == [
        {"type": "text", "text": "A"}, {"type": "text", "text": expected.instruction}]  # fmt: skip


def test_call_and_schema_expected_together() -> None:
    sent = body(tools=[fn("a"), fn("b")], tool_choice="required", response_format=JSON_SCHEMA)
    fitted, expected = fit_to_server(sent, with_caps(tool_choice_required=False, response_format="none"))
    assert expected is not None
    assert expected.call
    assert expected.json
    assert expected.schema == SCHEMA
    assert "calling a tool" in expected.instruction
    assert "JSON Schema" in expected.instruction
    assert len([m for m in fitted["messages"] if m["role"] == "system"]) == 1


def message(text: str) -> Json:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


CALL_ITEM = {"type": "function_call", "call_id": "c1", "name": "a", "arguments": "{}"}


@pytest.mark.parametrize(
    ("expectation", "items", "hosted", "problem"),
    [
        (Expectation("x", call=True), [message("hi")], 0, "did not call a tool"),
        (Expectation("x", call=True), [CALL_ITEM], 0, None),
        (Expectation("x", call=True), [message("hi")], 1, None),
        (Expectation("x", json=True), [message("{")], 0, "is not valid JSON"),
        (Expectation("x", json=True), [message("[1]")], 0, "is not a JSON object"),
        (Expectation("x", json=True), [message('{"b": 1}')], 0, None),
        (Expectation("x", json=True, schema=SCHEMA), [message('{"a": "1"}')], 0,
         "does not match the schema at a: '1' is not of type 'integer'"),
        (Expectation("x", json=True, schema=SCHEMA), [message('{"a": 1}')], 0, None),
        (Expectation("x", json=True, schema=SCHEMA), [CALL_ITEM], 0, None),
    ],
)  # fmt: skip
def test_expectation_problems(
    expectation: Expectation, items: list[Any], hosted: int, problem: str | None
) -> None:
    assert expectation.problem(items, hosted) == problem


def test_retry_adds_the_answer_and_the_problem() -> None:
    sent = body()
    retried = Expectation("Call a tool.", call=True).retry(sent, [message("no")], "did not call a tool")
    assert retried["messages"] == [
        *sent["messages"],
        {"role": "assistant", "content": "no"},
        {"role": "user", "content": "Your answer did not call a tool. Call a tool."},
    ]
    assert len(sent["messages"]) == 1


def test_an_answer_cut_at_the_limit_is_incomplete_unless_a_call_was_required() -> None:
    prose = [{"type": "message", "content": [{"type": "output_text", "text": '{"city": "Pa'}]}]
    assert Expectation("", call=True).problem(prose, 0, cut=True) == "did not call a tool"
    assert Expectation("Answer in JSON.", json=True).problem(prose, 0, cut=True) is None
    assert Expectation("Answer in JSON.", json=True).problem(prose, 0) == "is not valid JSON"

"""Every kind of bad input, and every upstream failure, ends in the right status and an OpenAI error body.

The body is always ``{"error": {"message", "type", "param", "code"}}`` (exactly those keys). A caller's
mistake is a 4xx whose ``param`` names the offending field the way OpenAI spells it (``input[0].role``,
``text.format.schema``); a provider's failure is a 502/504 that keeps the provider's own message and
leaves a ``failed`` response in the store. Nothing a client sends may produce a 500.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast, get_args
from unittest.mock import ANY

import httpx2
import orjson
import pytest
from openai.types.responses import Response, ResponseError

from parley.app import create_app, shutdown
from parley.config import ProviderConfig
from parley.testing.fake_upstream import Reply, ToolCall
from tests.api.test_responses_basic import EVENTS, parse_sse
from tests.conftest import Harness, make_settings

OMIT: Any = object()
"""A body value meaning: leave this key out of the request."""

TERMINAL = {"response.completed", "response.failed", "response.incomplete"}

# input[0].content[1].type, metadata.k, tool_choice.name: no pydantic union labels, no stray dots.
PARAM_SHAPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*$")

FUNCTION_TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {}},
}


def assert_error(
    r: httpx2.Response,
    status: int,
    *,
    type_: str = "invalid_request_error",
    param: Any = ANY,
    code: Any = ANY,
) -> dict[str, Any]:
    """Check status and the exact OpenAI error shape; return the ``error`` object."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    body = r.json()
    assert isinstance(body, dict)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["type"], str)
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["code"] is None or isinstance(error["code"], str)
    if isinstance(error["param"], str):
        assert PARAM_SHAPE.match(error["param"]), f"param is not an OpenAI-style path: {error['param']!r}"
    assert error["type"] == type_, error
    assert error["param"] == param, error
    assert error["code"] == code, error
    return error


async def stored_responses(h: Harness) -> list[dict[str, Any]]:
    r = await h.client.get("/v1/responses", params={"limit": 100})
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def assert_still_serving(h: Harness) -> None:
    r = await h.create(input="Are you still there?")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "completed"
    assert body["output"][0]["content"][0]["text"] == "Back to normal."


# --- request bodies that are not JSON objects -------------------------------------------------------

RAW_BODIES = [
    pytest.param(b'{"model": "fake-model", "input": ', id="malformed-json"),
    pytest.param(b"", id="empty-body"),
    pytest.param(b'[{"model": "fake-model", "input": "hi"}]', id="json-array"),
    pytest.param(b'"hello"', id="json-string"),
    pytest.param(b"42", id="json-number"),
    pytest.param(b"null", id="json-null"),
    pytest.param(b'{"model": "fake-model", "input": "hi", "temperature": NaN}', id="json-nan"),
    pytest.param(b'{"model": "fake-model", "input": "hi", "temperature": 1e400}', id="json-infinity"),
    pytest.param(b"\xff\xfe{}", id="not-utf8"),
    pytest.param(b"model=fake-model&input=hi", id="form-encoded"),
]


@pytest.mark.parametrize("raw", RAW_BODIES)
async def test_body_that_is_not_a_json_object(harness: Harness, raw: bytes) -> None:
    r = await harness.client.post("/v1/responses", content=raw, headers={"content-type": "application/json"})
    assert_error(r, 400, param=None)
    assert harness.fake.requests == []


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings"])
async def test_passthrough_malformed_json(harness: Harness, path: str) -> None:
    r = await harness.client.post(path, content=b"{nope", headers={"content-type": "application/json"})
    assert_error(r, 400, param=None)
    assert harness.fake.requests == []


# --- bodies that are JSON objects but break the schema: 400 naming the field ----------------------------

MISSING = "missing_required_parameter"

INVALID_BODIES = [
    # model
    pytest.param({"model": OMIT}, "model", MISSING, id="model-missing"),
    pytest.param({"model": 5}, "model", ANY, id="model-number"),
    pytest.param({"model": ""}, "model", ANY, id="model-empty"),
    # input
    pytest.param({"input": OMIT}, "input", MISSING, id="input-missing"),
    pytest.param({"input": []}, "input", "empty_array", id="input-empty-list"),
    pytest.param({"input": 5}, "input", ANY, id="input-number"),
    pytest.param({"input": {"role": "user", "content": "hi"}}, "input", ANY, id="input-object"),
    pytest.param({"input": [5]}, "input[0]", ANY, id="input-item-not-object"),
    pytest.param({"input": [{"type": "bogus"}]}, "input[0].type", ANY, id="input-item-unknown-type"),
    pytest.param({"input": [{"content": "hi"}]}, "input[0].type", ANY, id="input-item-no-type-no-role"),
    pytest.param(
        {"input": [{"role": "wizard", "content": "hi"}]}, "input[0].role", ANY, id="message-bad-role"
    ),
    pytest.param(
        {"input": [{"type": "message", "role": "wizard", "content": "hi"}]},
        "input[0].role",
        ANY,
        id="typed-message-bad-role",
    ),
    pytest.param(
        {"input": [{"role": "user", "content": 5}]}, "input[0].content", ANY, id="message-content-number"
    ),
    pytest.param(
        {"input": [{"role": "assistant", "content": {"text": "hi"}}]},
        "input[0].content",
        ANY,
        id="assistant-content-object",
    ),
    pytest.param(
        {"input": [{"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "nope"}]}]},
        "input[0].content[1].type",
        ANY,
        id="content-part-unknown-type",
    ),
    pytest.param(
        {"input": [{"role": "user", "content": [{"type": "input_text"}]}]},
        "input[0].content[0].text",
        MISSING,
        id="content-part-missing-text",
    ),
    pytest.param(
        {"input": [{"type": "function_call", "name": "get_weather", "arguments": "{}"}]},
        "input[0].call_id",
        MISSING,
        id="function-call-missing-call-id",
    ),
    pytest.param(
        {
            "input": [
                {"role": "user", "content": "hi"},
                {"type": "function_call", "name": "get_weather", "arguments": "{}"},
            ]
        },
        "input[1].call_id",
        MISSING,
        id="second-item-missing-call-id",
    ),
    pytest.param(
        {"input": [{"type": "function_call_output", "call_id": "call_1", "output": 5}]},
        "input[0].output",
        ANY,
        id="function-call-output-number",
    ),
    pytest.param({"instructions": ["Be brief."]}, "instructions", ANY, id="instructions-list"),
    # sampling and limits
    pytest.param({"temperature": 5}, "temperature", ANY, id="temperature-5"),
    pytest.param({"temperature": "1"}, "temperature", ANY, id="temperature-string"),
    pytest.param({"top_p": -1}, "top_p", ANY, id="top-p-negative"),
    pytest.param({"max_output_tokens": 0}, "max_output_tokens", ANY, id="max-output-tokens-0"),
    pytest.param({"max_output_tokens": 1.5}, "max_output_tokens", ANY, id="max-output-tokens-fraction"),
    pytest.param({"max_output_tokens": "5"}, "max_output_tokens", ANY, id="max-output-tokens-string"),
    pytest.param({"max_output_tokens": True}, "max_output_tokens", ANY, id="max-output-tokens-bool"),
    pytest.param({"max_tool_calls": 0}, "max_tool_calls", ANY, id="max-tool-calls-0"),
    pytest.param({"top_logprobs": 21}, "top_logprobs", ANY, id="top-logprobs-21"),
    pytest.param({"service_tier": "ultra"}, "service_tier", ANY, id="service-tier-invalid"),
    # metadata: OpenAI says 'metadata' for too many keys and 'metadata.<key>' for a bad value
    pytest.param({"metadata": {f"key{i}": "v" for i in range(17)}}, "metadata", ANY, id="metadata-17-keys"),
    pytest.param({"metadata": {"k": "v" * 513}}, "metadata.k", ANY, id="metadata-value-too-long"),
    pytest.param({"metadata": {"k": 1}}, "metadata.k", ANY, id="metadata-value-number"),
    pytest.param({"metadata": {"k" * 65: "v"}}, "metadata", ANY, id="metadata-key-too-long"),
    pytest.param({"metadata": ["k", "v"]}, "metadata", ANY, id="metadata-list"),
    # tools and tool_choice
    pytest.param({"tools": FUNCTION_TOOL}, "tools", ANY, id="tools-not-a-list"),
    pytest.param(
        {"tools": [{"type": "mcp", "server_url": "http://127.0.0.1:1"}]},
        "tools[0].server_label",
        ANY,
        id="tools-mcp-without-label",
    ),
    pytest.param(
        {"tools": [FUNCTION_TOOL, {"type": "code_interpreter"}]},
        "tools[1].type",
        "unsupported_tool_type",
        id="tools-second-is-web-search",
    ),
    pytest.param({"tools": [{"type": "bogus"}]}, "tools[0].type", ANY, id="tools-unknown-type"),
    pytest.param({"tools": [{"name": "get_weather"}]}, "tools[0].type", ANY, id="tools-missing-type"),
    pytest.param({"tools": [5]}, "tools[0]", ANY, id="tools-item-number"),
    pytest.param(
        {"tools": [{"type": "function", "name": "get weather!"}]},
        "tools[0].name",
        ANY,
        id="function-tool-invalid-name",
    ),
    pytest.param(
        {"tools": [{"type": "function", "name": "x" * 129}]},
        "tools[0].name",
        ANY,
        id="function-tool-name-too-long",
    ),
    pytest.param({"tools": [{"type": "function"}]}, "tools[0].name", MISSING, id="function-tool-no-name"),
    pytest.param(
        {"tools": [{"type": "function", "name": "f", "parameters": 5}]},
        "tools[0].parameters",
        ANY,
        id="function-tool-parameters-number",
    ),
    pytest.param({"tool_choice": "sometimes"}, "tool_choice", ANY, id="tool-choice-invalid-string"),
    pytest.param(
        {"tools": [FUNCTION_TOOL], "tool_choice": {"type": "function"}},
        "tool_choice.name",
        MISSING,
        id="tool-choice-function-without-name",
    ),
    pytest.param(
        {"tools": [FUNCTION_TOOL], "tool_choice": {"type": "allowed_tools", "tools": []}},
        "tool_choice.tools",
        ANY,
        id="tool-choice-allowed-tools-empty",
    ),
    pytest.param(
        {"tools": [FUNCTION_TOOL], "tool_choice": {"type": "function", "name": "get_time"}},
        "tool_choice",
        ANY,
        id="tool-choice-names-an-undeclared-function",
    ),
    # text.format, reasoning
    pytest.param(
        {"text": {"format": {"type": "json_schema", "name": "answer"}}},
        "text.format.schema",
        MISSING,
        id="json-schema-missing-schema",
    ),
    pytest.param(
        {"text": {"format": {"type": "json_schema", "name": "answer", "schema": 5}}},
        "text.format.schema",
        ANY,
        id="json-schema-schema-number",
    ),
    pytest.param(
        {"text": {"format": {"type": "json_schema", "name": "my answer", "schema": {}}}},
        "text.format.name",
        ANY,
        id="json-schema-bad-name",
    ),
    pytest.param({"text": {"format": {"type": "yaml"}}}, "text.format.type", ANY, id="text-format-unknown"),
    pytest.param({"text": {"verbosity": "loud"}}, "text.verbosity", ANY, id="text-verbosity-invalid"),
    pytest.param(
        {"reasoning": {"effort": "maximum"}}, "reasoning.effort", ANY, id="reasoning-effort-invalid"
    ),
    # the rest of the top level
    pytest.param({"truncation": "sometimes"}, "truncation", ANY, id="truncation-invalid"),
    pytest.param({"include": "reasoning.encrypted_content"}, "include", ANY, id="include-string"),
    pytest.param({"include": [5]}, "include[0]", ANY, id="include-item-number"),
    pytest.param({"stream": "yes"}, "stream", ANY, id="stream-string"),
    pytest.param({"stream": 1}, "stream", ANY, id="stream-number"),
    pytest.param({"store": "no"}, "store", ANY, id="store-string"),
    pytest.param(
        {"parallel_tool_calls": "false"}, "parallel_tool_calls", ANY, id="parallel-tool-calls-string"
    ),
    pytest.param(
        {"stream_options": {"include_obfuscation": "x"}},
        "stream_options.include_obfuscation",
        ANY,
        id="stream-options-invalid",
    ),
    pytest.param({"previous_response_id": 5}, "previous_response_id", ANY, id="previous-response-id-number"),
    pytest.param({"background": True, "store": False}, "background", ANY, id="background-unstored"),
    pytest.param({"conversation": {"name": "x"}}, "conversation", ANY, id="conversation-without-id"),
    pytest.param({"conversation": 5}, "conversation", ANY, id="conversation-number"),
]


def request_body(overrides: dict[str, Any]) -> dict[str, Any]:
    body = {"model": "fake-model", "input": "What is the weather?", **overrides}
    return {key: value for key, value in body.items() if value is not OMIT}


@pytest.mark.parametrize(("overrides", "param", "code"), INVALID_BODIES)
async def test_invalid_body_names_the_param(
    harness: Harness, overrides: dict[str, Any], param: str, code: Any
) -> None:
    r = await harness.client.post("/v1/responses", json=request_body(overrides))
    assert_error(r, 400, param=param, code=code)
    assert harness.fake.requests == [], "an invalid request must not reach the provider"
    assert await stored_responses(harness) == [], "an invalid request must not be stored"


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        pytest.param({"temperature": 5}, "temperature", id="temperature"),
        pytest.param({"input": [{"role": "wizard", "content": "hi"}]}, "input[0].role", id="role"),
        pytest.param({"tools": [{"type": "file_search"}]}, "tools[0].vector_store_ids", id="file-search"),
    ],
)
async def test_invalid_streaming_request_is_a_json_error_not_a_stream(
    harness: Harness, overrides: dict[str, Any], param: str
) -> None:
    r = await harness.client.post("/v1/responses", json=request_body({**overrides, "stream": True}))
    assert_error(r, 400, param=param)


# --- errors that need state: previous responses, call ids, item references ---------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_unknown_previous_response_id(harness: Harness, stream: bool) -> None:
    r = await harness.create(input="hi", previous_response_id="resp_does_not_exist", stream=stream)
    error = assert_error(r, 400, param="previous_response_id", code="previous_response_not_found")
    assert "resp_does_not_exist" in error["message"]
    assert harness.fake.requests == []


async def test_deleted_previous_response_id(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="First.")])
    first = (await h.create(input="hi")).json()
    assert (await h.client.delete(f"/v1/responses/{first['id']}")).status_code == 200
    r = await h.create(input="again", previous_response_id=first["id"])
    assert_error(r, 400, param="previous_response_id", code="previous_response_not_found")


@pytest.mark.parametrize(
    ("items", "param"),
    [
        pytest.param(
            [{"type": "function_call_output", "call_id": "call_nowhere", "output": "42"}],
            "input[0].call_id",
            id="first-item",
        ),
        pytest.param(
            [
                {"role": "user", "content": "What is the weather?"},
                {"type": "function_call", "call_id": "call_a", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
                {"type": "function_call_output", "call_id": "call_b", "output": "rainy"},
            ],
            "input[3].call_id",
            id="fourth-item",
        ),
    ],
)
async def test_function_call_output_without_its_call(
    harness: Harness, items: list[dict[str, Any]], param: str
) -> None:
    r = await harness.create(input=items, tools=[FUNCTION_TOOL])
    assert_error(r, 400, param=param)
    assert harness.fake.requests == []


async def test_function_call_output_not_matching_previous_calls(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(tool_calls=[ToolCall("get_weather", "{}", "call_a")])])
    first = (await h.create(input="Weather?", tools=[FUNCTION_TOOL])).json()
    r = await h.create(
        previous_response_id=first["id"],
        tools=[FUNCTION_TOOL],
        input=[{"type": "function_call_output", "call_id": "call_zzz", "output": "sunny"}],
    )
    error = assert_error(r, 400, param="input[0].call_id")
    assert "call_zzz" in error["message"]
    assert len(h.fake.requests) == 1


async def test_item_reference_to_unknown_item(harness: Harness) -> None:
    r = await harness.create(input=[{"type": "item_reference", "id": "msg_nowhere"}])
    assert_error(r, 400, param="input[0].id")


async def test_model_no_provider_serves(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(providers=(ProviderConfig("openai", "http://upstream.test/v1", models=("gpt-*",)),))
    r = await h.create(model="llama-3", input="hi")
    error = assert_error(r, 404, param="model", code="model_not_found")
    assert "llama-3" in error["message"]


@pytest.mark.parametrize("stream", [False, True])
async def test_no_provider_configured(harness_factory: Callable[..., Harness], stream: bool) -> None:
    h = harness_factory(providers=())
    r = await h.create(input="hi", stream=stream)
    error = assert_error(r, 503, type_=ANY)
    assert "--provider-url" in error["message"]
    assert await stored_responses(h) == []


# --- odd but well-formed input: whatever the answer, never a 500 -------------------------------------

ODD_INPUTS = [
    pytest.param([{"role": "user", "content": [{"type": "input_image"}]}], id="image-without-source"),
    pytest.param([{"role": "user", "content": [{"type": "input_file"}]}], id="file-without-source"),
    pytest.param([{"role": "user", "content": []}], id="empty-content-list"),
    pytest.param([{"role": "user", "content": ""}], id="empty-content-string"),
    pytest.param([{"role": "system", "content": "Only rules."}], id="system-only"),
    pytest.param(
        [{"type": "reasoning", "summary": []}, {"role": "user", "content": "hi"}], id="bare-reasoning-item"
    ),
    pytest.param(
        [
            {"type": "function_call", "call_id": "c", "name": "get_weather", "arguments": "{not json"},
            {"type": "function_call_output", "call_id": "c", "output": "sunny"},
        ],
        id="call-arguments-not-json",
    ),
]


@pytest.mark.parametrize("items", ODD_INPUTS)
async def test_odd_input_is_never_a_server_error(
    harness_factory: Callable[..., Harness], items: list[dict[str, Any]]
) -> None:
    h = harness_factory(lambda body: Reply(text="ok"))
    r = await h.create(input=items)
    if r.status_code != 200:
        assert_error(r, r.status_code, param=ANY)
        assert 400 <= r.status_code < 500, r.text


# --- the other routes: unknown ids, list queries, unknown routes, wrong methods -------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/v1/responses/resp_missing", id="get"),
        pytest.param("DELETE", "/v1/responses/resp_missing", id="delete"),
        pytest.param("GET", "/v1/responses/resp_missing/input_items", id="input-items"),
    ],
)
async def test_unknown_response_id(harness: Harness, method: str, path: str) -> None:
    r = await harness.client.request(method, path)
    error = assert_error(r, 404)
    assert "resp_missing" in error["message"]


async def test_deleted_response_is_gone(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Hello.")])
    response_id = (await h.create(input="hi")).json()["id"]
    assert (await h.client.delete(f"/v1/responses/{response_id}")).status_code == 200
    for method, path in [
        ("GET", f"/v1/responses/{response_id}"),
        ("DELETE", f"/v1/responses/{response_id}"),
        ("GET", f"/v1/responses/{response_id}/input_items"),
    ]:
        assert_error(await h.client.request(method, path), 404)


@pytest.mark.parametrize("endpoint", ["list", "input_items"])
@pytest.mark.parametrize(
    ("query", "param"),
    [
        pytest.param({"limit": "0"}, "limit", id="limit-0"),
        pytest.param({"limit": "101"}, "limit", id="limit-101"),
        pytest.param({"limit": "-1"}, "limit", id="limit-negative"),
        pytest.param({"limit": "abc"}, "limit", id="limit-abc"),
        pytest.param({"limit": "2.5"}, "limit", id="limit-fraction"),
        pytest.param({"order": "sideways"}, "order", id="order-sideways"),
    ],
)
async def test_bad_list_query(
    harness_factory: Callable[..., Harness], endpoint: str, query: dict[str, str], param: str
) -> None:
    h = harness_factory([Reply(text="Hello.")])
    response_id = (await h.create(input="hi")).json()["id"]
    path = "/v1/responses" if endpoint == "list" else f"/v1/responses/{response_id}/input_items"
    r = await h.client.get(path, params=query)
    error = assert_error(r, 400, param=param)
    assert query[param] in error["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/v1/nope", id="unknown-v1-route"),
        pytest.param("GET", "/nope", id="unknown-root-route"),
        pytest.param("POST", "/v2/responses", id="wrong-version"),
        pytest.param("GET", "/v1/responses/resp_1/nope", id="unknown-subresource"),
    ],
)
async def test_unknown_route(harness: Harness, method: str, path: str) -> None:
    error = assert_error(await harness.client.request(method, path, json={}), 404, param=None)
    assert error["message"] == f"Invalid URL ({method} {path})"


WRONG_METHODS = [
    pytest.param("PUT", "/v1/responses", {"GET", "POST"}, id="put-responses"),
    pytest.param("DELETE", "/v1/responses", {"GET", "POST"}, id="delete-responses"),
    pytest.param("PATCH", "/v1/responses/resp_1", {"GET", "DELETE"}, id="patch-response"),
    pytest.param("POST", "/v1/responses/resp_1/input_items", {"GET"}, id="post-input-items"),
    pytest.param("GET", "/v1/chat/completions", {"POST"}, id="get-chat-completions"),
]


@pytest.mark.parametrize(("method", "path", "allowed"), WRONG_METHODS)
async def test_wrong_method(harness: Harness, method: str, path: str, allowed: set[str]) -> None:
    assert_error(await harness.client.request(method, path), 405, param=None)


@pytest.mark.parametrize(("method", "path", "allowed"), WRONG_METHODS)
async def test_wrong_method_says_what_is_allowed(
    harness: Harness, method: str, path: str, allowed: set[str]
) -> None:
    """RFC 9110 section 15.5.6: a 405 must carry an Allow header listing the resource's methods."""
    r = await harness.client.request(method, path)
    assert r.status_code == 405
    assert "allow" in r.headers, dict(r.headers)
    methods = {m.strip() for m in r.headers["allow"].split(",")}
    assert allowed <= methods, methods
    assert method not in methods


# --- upstream failures --------------------------------------------------------------------------------

Failure = Callable[[], Reply | Exception]


@pytest.fixture
def failing_harness(harness_factory: Callable[..., Harness]) -> Callable[[Failure], Harness]:
    """A harness whose first upstream call fails as ``failure`` says; later calls answer 'Back to normal.'.

    A Reply is scripted on the fake upstream; an exception is raised by the transport itself, as a
    timeout or a refused connection would be (on the first chat call: the model list Parley reads
    at first contact is answered).
    """

    def factory(failure: Failure) -> Harness:
        first = failure()
        recovered = Reply(text="Back to normal.")
        if isinstance(first, Reply):
            return harness_factory([first, recovered])

        def failing_once(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
            calls = 0

            async def handler(request: httpx2.Request) -> httpx2.Response:
                nonlocal calls
                calls += request.url.path.endswith("/chat/completions")
                if calls == 1:
                    raise first
                return await inner.handle_async_request(request)

            return httpx2.MockTransport(handler)

        return harness_factory([recovered], wrap=failing_once)

    return factory


def upstream_500() -> Reply:
    return Reply(
        status=500, error_body={"error": {"message": "The GPU caught fire.", "type": "server_error"}}
    )


def upstream_400() -> Reply:
    """A refusal that is about the provider's own limits, not the caller's input."""
    error = {
        "message": "Unsupported parameter: 'parallel_tool_calls' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "parallel_tool_calls",
        "code": "unsupported_parameter",
    }
    return Reply(status=400, error_body={"error": error})


def read_timeout() -> Exception:
    return httpx2.ReadTimeout("The read operation timed out")


def connection_refused() -> Exception:
    return httpx2.ConnectError("[Errno 111] Connection refused")


def broken_stream() -> Reply:
    return Reply(text="The weather is sunny and warm today.", break_after_chunks=2)


# failure, HTTP status, error code (ANY: not pinned), text the message must keep
UPSTREAM_FAILURES = [
    pytest.param(upstream_500, 502, ANY, "The GPU caught fire.", id="upstream-500"),
    pytest.param(upstream_400, 502, ANY, "is not supported with this model", id="upstream-400"),
    pytest.param(read_timeout, 504, ANY, "", id="read-timeout"),
    pytest.param(connection_refused, 502, ANY, "Connection refused", id="connection-refused"),
    pytest.param(broken_stream, 502, "upstream_protocol_error", "", id="broken-stream"),
]


@pytest.mark.parametrize(("failure", "status", "code", "kept"), UPSTREAM_FAILURES)
async def test_upstream_failure_non_streaming(
    failing_harness: Callable[[Failure], Harness], failure: Failure, status: int, code: Any, kept: str
) -> None:
    h = failing_harness(failure)
    r = await h.create(input="What is the weather?")
    error = assert_error(r, status, type_="upstream_error", param=None, code=code)
    assert kept in error["message"]

    [stored] = await stored_responses(h)
    assert stored["status"] == "failed"
    assert isinstance(stored["error"]["code"], str)
    assert kept in stored["error"]["message"]
    assert (await h.client.get(f"/v1/responses/{stored['id']}")).json()["status"] == "failed"

    await assert_still_serving(h)


@pytest.mark.parametrize(("failure", "status", "code", "kept"), UPSTREAM_FAILURES)
async def test_upstream_failure_streaming(
    failing_harness: Callable[[Failure], Harness], failure: Failure, status: int, code: Any, kept: str
) -> None:
    h = failing_harness(failure)
    r = await h.create(input="What is the weather?", stream=True)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.content)  # also checks that the stream ends with data: [DONE]
    for event in events[:-1]:  # the terminal one: test_failed_response_matches_openai_schema
        EVENTS.validate_python(event)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert [k for k in kinds if k in TERMINAL] == ["response.failed"]
    assert kinds[-1] == "response.failed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))

    failed = cast(dict[str, Any], events[-1]["response"])
    assert failed["status"] == "failed"
    assert set(failed["error"]) == {"code", "message"}
    assert isinstance(failed["error"]["code"], str)
    assert failed["error"]["code"]
    assert isinstance(failed["error"]["message"], str)
    assert kept in failed["error"]["message"]

    stored = (await h.client.get(f"/v1/responses/{failed['id']}")).json()
    assert stored["status"] == "failed"
    assert stored["error"] == failed["error"]
    assert [s["id"] for s in await stored_responses(h)] == [failed["id"]]

    await assert_still_serving(h)


RESPONSE_ERROR_CODES = frozenset(get_args(ResponseError.model_fields["code"].annotation))


@pytest.mark.parametrize(("failure", "status", "code", "kept"), UPSTREAM_FAILURES)
async def test_failed_response_matches_openai_schema(
    failing_harness: Callable[[Failure], Harness], failure: Failure, status: int, code: Any, kept: str
) -> None:
    """``response.error.code`` is a closed enum in the OpenAI schema (server_error, rate_limit_exceeded, ...).

    Parley's own codes (upstream_timeout, upstream_protocol_error, ...) belong in the HTTP error body,
    whose ``code`` is free-form; a failed Response object must still decode in a typed client.
    """
    h = failing_harness(failure)
    r = await h.create(input="What is the weather?", stream=True)
    events = parse_sse(r.content)
    assert events[-1]["type"] == "response.failed"
    failed = cast(dict[str, Any], events[-1]["response"])
    assert failed["error"]["code"] in RESPONSE_ERROR_CODES, failed["error"]
    EVENTS.validate_python(events[-1])
    stored = (await h.client.get(f"/v1/responses/{failed['id']}")).json()
    Response.model_validate(stored)


async def test_broken_stream_keeps_the_partial_text_it_streamed(harness_factory: Any) -> None:
    h = harness_factory([Reply(text="one two three four five", break_after_chunks=3)])
    r = await h.create(input="count", stream=True)
    failed = next(e for e in parse_sse(r.content) if e["type"] == "response.failed")["response"]
    [message] = failed["output"]
    assert message["status"] == "incomplete"
    assert message["content"][0]["text"] == "one two "
    stored = (await h.client.get(f"/v1/responses/{failed['id']}")).json()
    assert stored["output"] == failed["output"]


async def test_a_chunk_of_the_wrong_shape_is_an_upstream_protocol_error(tmp_path: Path) -> None:
    body = b'data: {"choices": [{"delta": "not an object"}]}\n\ndata: [DONE]\n\n'
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=body))
    app = create_app(make_settings(tmp_path), transport_factory=lambda cfg: transport)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://parley.test"
    ) as c:
        r = await c.post("/v1/responses", json={"model": "m", "input": "hi", "stream": True})
        failed = parse_sse(r.content)[-1]
        assert failed["type"] == "response.failed"
        assert failed["response"]["error"]["code"] == "server_error"
        assert "not a chat.completion.chunk" in failed["response"]["error"]["message"]
        r = await c.post("/v1/responses", json={"model": "m", "input": "hi"})
        assert_error(r, 502, type_="upstream_error", code="upstream_protocol_error")
    await shutdown(app)


@pytest.mark.parametrize(
    "upstream_message",
    [
        "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.",  # vLLM
        "the request exceeds the available context size, try increasing it",  # llama.cpp
    ],
)
async def test_input_too_long_for_the_model_is_a_400(
    harness_factory: Callable[..., Harness], upstream_message: str
) -> None:
    h = harness_factory([Reply(status=400, error_body={"error": {"message": upstream_message}})] * 2)
    r = await h.create(input="a very long input")
    error = assert_error(r, 400, param="input", code="context_length_exceeded")
    assert upstream_message in error["message"]
    failed = parse_sse((await h.create(input="a very long input", stream=True)).content)[-1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"]["code"] == "invalid_prompt"


def _sse(*chunks: dict[str, Any], done: bool) -> bytes:
    frames = [b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks]
    return b"".join(frames) + (b"data: [DONE]\n\n" if done else b"")


def _delta(text: str, finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": finish}
    return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [choice]}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(_sse(_delta("Hel"), _delta("lo"), done=False), 502, id="cut-off"),
        pytest.param(_sse(_delta("Hel"), _delta("lo", "stop"), done=False), 200, id="finished-without-done"),
    ],
)
async def test_a_stream_that_stops_without_saying_why_is_a_protocol_error(
    tmp_path: Path, body: bytes, status: int
) -> None:
    headers = {"content-type": "text/event-stream"}
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=body, headers=headers))
    app = create_app(make_settings(tmp_path), transport_factory=lambda cfg: transport)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://parley.test"
    ) as c:
        r = await c.post("/v1/responses", json={"model": "m", "input": "hi"})
    assert r.status_code == status, r.text
    if status == 502:
        assert r.json()["error"]["code"] == "upstream_protocol_error"
    else:
        assert r.json()["output"][0]["content"][0]["text"] == "Hello"

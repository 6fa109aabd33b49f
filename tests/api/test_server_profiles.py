"""Capability profiles end to end: the provider's server recognised from its model list, usage counted
where its streams report none, and ``tool_choice`` made good where the server does not enforce it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from parley.config import ProviderConfig
from parley.engine.usage_count import answer_text, prompt_text
from parley.retrieval.tokens import count_tokens as o200k_tokens
from parley.testing.fake_upstream import Reply, ToolCall
from tests.api.test_errors import stored_responses
from tests.api.test_responses_basic import parse_sse
from tests.conftest import Harness

Json = dict[str, Any]
URL = "http://upstream.test/v1"
LLAMA_CPP_PYTHON = ProviderConfig("default", URL, server="llama-cpp-python")
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
JSON_SCHEMA = {"type": "json_schema", "name": "place", "schema": SCHEMA, "strict": True}


def tool(name: str) -> Json:
    params = {"type": "object", "properties": {"city": {"type": "string"}}}
    return {"type": "function", "name": name, "parameters": params}


TOOLS = [tool("get_weather"), tool("get_time")]
CALL = Reply(tool_calls=[ToolCall("get_weather", '{"city": "Paris"}', "c1")])
MUST_CALL = "You must answer by calling a tool (get_weather, get_time), not with text."


def system_text(body: Json) -> str:
    head = body["messages"][0]
    assert head["role"] in ("system", "developer"), body["messages"]
    return str(head["content"])


async def stream(h: Harness, **body: Any) -> list[Json]:
    r = await h.create(stream=True, **body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse_sse(r.content)


def text_deltas(events: list[Json]) -> list[str]:
    return [e["delta"] for e in events if e["type"] == "response.output_text.delta"]


# --- recognition --------------------------------------------------------------------------------


async def test_owned_by_me_is_recognised_as_llama_cpp_python(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text='{"city": "Paris"}')])
    h.fake.owned_by = "me"
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA})
    assert r.status_code == 200, r.text
    sent = h.fake.requests[0]
    assert "stream_options" not in sent  # it never streams usage: not asked for
    assert sent["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert h.fake.asked.count("GET /v1/models") == 1


async def test_an_unknown_owner_is_generic(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text='{"city": "Paris"}')])
    r = await h.create(input="Where?", text={"format": JSON_SCHEMA})
    assert r.status_code == 200, r.text
    sent = h.fake.requests[0]
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    assert h.fake.asked == ["GET /v1/models"]


async def test_recognition_asks_once_across_requests(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="one"), Reply(text="two")])
    h.fake.owned_by = "me"
    for _ in range(2):
        assert (await h.create(input="Hi")).status_code == 200
    assert h.fake.asked.count("GET /v1/models") == 1
    assert all("stream_options" not in sent for sent in h.fake.requests)


async def test_a_configured_server_is_not_asked(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(
        [Reply(text="one"), Reply(text="two")], providers=(ProviderConfig("default", URL, server="vllm"),)
    )
    h.fake.owned_by = "me"  # would be taken for llama-cpp-python if it were asked
    for _ in range(2):
        assert (await h.create(input="Hi")).status_code == 200
    assert h.fake.asked == []
    assert all(sent["stream_options"] == {"include_usage": True} for sent in h.fake.requests)


class SlowModelList(httpx2.AsyncBaseTransport):
    """The model list answered late, so that concurrent first requests all reach recognition."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/models"):
            await asyncio.sleep(0.05)
        return await self.inner.handle_async_request(request)


async def test_concurrent_first_requests_recognise_once(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(lambda body: Reply(text="hi"), wrap=SlowModelList)
    h.fake.owned_by = "me"
    answers = await asyncio.gather(*(h.create(input=f"Hi {i}") for i in range(4)))
    assert [r.status_code for r in answers] == [200] * 4
    assert h.fake.asked.count("GET /v1/models") == 1
    assert len(h.fake.requests) == 4
    assert all("stream_options" not in sent for sent in h.fake.requests)  # all waited for the row


class ModelListFails(httpx2.AsyncBaseTransport):
    """The model list's first asking fails: unreachable (``ConnectError``), or answered 404."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, unreachable: bool) -> None:
        self.inner, self.unreachable, self.failed = inner, unreachable, False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/models") and not self.failed:
            self.failed = True
            if self.unreachable:
                raise httpx2.ConnectError("connection refused", request=request)
            return httpx2.Response(404, json={"error": {"message": "Not Found"}})
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize(("unreachable", "later"), [(True, "llama-cpp-python"), (False, "generic")])
async def test_a_model_list_that_fails(
    harness_factory: Callable[..., Harness], unreachable: bool, later: str
) -> None:
    """Unreachable: generic for now, asked again next time. Answered with an error: generic for good."""
    h = harness_factory([Reply(text="one"), Reply(text="two")], wrap=lambda t: ModelListFails(t, unreachable))
    h.fake.owned_by = "me"
    for _ in range(2):
        assert (await h.create(input="Hi")).status_code == 200
    first, second = h.fake.requests
    assert "stream_options" in first
    assert ("stream_options" in second) == (later == "generic")
    assert h.fake.asked.count("GET /v1/models") == (1 if unreachable else 0)


# --- usage where the stream reports none ----------------------------------------------------------

LONG_WORDS = "Supercalifragilisticexpialidocious antidisestablishmentarianism"


def expected_usage(sent: Json, output: list[Json], count: Callable[[str], int]) -> Json:
    prompt, completion = count(prompt_text(sent)), count(answer_text(output))
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}


def words(text: str) -> int:
    return len(text.split())


def usage_of(response: Json) -> Json:
    usage = response["usage"]
    return {k: usage[k] for k in ("input_tokens", "output_tokens", "total_tokens")}


async def test_no_stream_usage_is_counted_by_the_servers_tokenizer(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text=LONG_WORDS)])
    h.fake.owned_by, h.fake.stream_usage = "me", False
    r = await h.create(input="Say two long words.")
    assert r.status_code == 200, r.text
    body = r.json()
    assert usage_of(body) == expected_usage(h.fake.requests[0], body["output"], words)
    assert body["usage"]["output_tokens"] == 2  # the endpoint's count, not o200k's (many more)
    assert o200k_tokens(LONG_WORDS) > 2
    assert h.fake.asked.count("POST /extras/tokenize/count") == 2


async def test_no_stream_usage_and_no_tokenizer_is_estimated(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(
        [Reply(text=LONG_WORDS)], providers=(ProviderConfig("default", URL, server="lm-studio"),)
    )
    events = await stream(h, input="Say two long words.")
    final = events[-1]["response"]
    assert events[-1]["type"] == "response.completed"
    sent = h.fake.requests[0]
    assert "stream_options" not in sent
    assert usage_of(final) == expected_usage(sent, final["output"], o200k_tokens)
    assert final["usage"]["output_tokens"] > 2
    assert h.fake.asked == []  # no tokenizer asked, no model list


async def test_a_failing_tokenizer_falls_back_to_the_estimate(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text=LONG_WORDS)], providers=(LLAMA_CPP_PYTHON,))
    h.fake.stream_usage, h.fake.tokenize_status = False, 500
    r = await h.create(input="Say two long words.")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "completed"
    assert usage_of(body) == expected_usage(h.fake.requests[0], body["output"], o200k_tokens)
    assert body["usage"]["output_tokens"] > 0
    assert "POST /extras/tokenize/count" in h.fake.asked


async def test_a_stream_that_reports_usage_is_not_counted(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text=LONG_WORDS, prompt_tokens=7, completion_tokens=5)])
    r = await h.create(input="Say two long words.")
    assert r.status_code == 200, r.text
    assert usage_of(r.json()) == {"input_tokens": 7, "output_tokens": 5, "total_tokens": 12}
    assert "POST /extras/tokenize/count" not in h.fake.asked


async def test_a_generic_server_without_stream_usage_still_counts(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text=LONG_WORDS)])
    h.fake.stream_usage = False  # unrecognised, and it ignores stream_options
    r = await h.create(input="Say two long words.")
    assert r.status_code == 200, r.text
    body = r.json()
    assert h.fake.requests[0]["stream_options"] == {"include_usage": True}
    assert usage_of(body) == expected_usage(h.fake.requests[0], body["output"], o200k_tokens)
    assert body["usage"]["output_tokens"] > 0


# --- tool_choice "required" where the server does not enforce it -----------------------------------


async def test_required_with_one_tool_becomes_a_named_choice(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([CALL], providers=(LLAMA_CPP_PYTHON,))
    r = await h.create(input="Weather?", tools=[TOOLS[0]], tool_choice="required")
    assert r.status_code == 200, r.text
    sent = h.fake.requests[0]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["messages"][0]["role"] == "user"  # no instruction: the server enforces a named choice
    assert [item["type"] for item in r.json()["output"]] == ["function_call"]


async def test_required_with_two_tools_retries_a_text_answer(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="I think it is sunny."), CALL], providers=(LLAMA_CPP_PYTHON,))
    events = await stream(h, input="Weather?", instructions="Be brief.", tools=TOOLS, tool_choice="required")
    assert events[-1]["type"] == "response.completed"
    assert text_deltas(events) == []
    assert "sunny" not in str(events)  # the failed answer never reached the client
    output = events[-1]["response"]["output"]
    assert [(item["type"], item["name"]) for item in output] == [("function_call", "get_weather")]
    first, second = h.fake.requests
    assert first["tool_choice"] == "auto"
    assert system_text(first) == f"Be brief.\n\n{MUST_CALL}"
    assert second["messages"][-2] == {"role": "assistant", "content": "I think it is sunny."}
    assert second["messages"][-1] == {
        "role": "user",
        "content": f"Your answer did not call a tool. {MUST_CALL}",
    }
    assert second["messages"][:-2] == first["messages"]


async def test_required_answered_with_text_twice_fails(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Sunny."), Reply(text="Still sunny.")], providers=(LLAMA_CPP_PYTHON,))
    r = await h.create(input="Weather?", tools=TOOLS, tool_choice="required")
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert error["code"] == "model_output_invalid"
    assert "did not call a tool, twice" in error["message"]
    assert "llama-cpp-python" in error["message"]
    [stored] = await stored_responses(h)
    assert stored["status"] == "failed"
    assert "did not call a tool" in stored["error"]["message"]
    assert len(h.fake.requests) == 2


async def test_required_answered_with_text_twice_fails_the_stream(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="Sunny."), Reply(text="Still sunny.")], providers=(LLAMA_CPP_PYTHON,))
    events = await stream(h, input="Weather?", tools=TOOLS, tool_choice="required")
    assert events[-1]["type"] == "response.failed"
    assert "did not call a tool" in events[-1]["response"]["error"]["message"]
    assert text_deltas(events) == []
    assert not any(e["type"].startswith("response.output_item") for e in events)


async def test_a_server_that_enforces_required_gets_it_as_is(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([CALL], providers=(ProviderConfig("default", URL, server="vllm"),))
    assert (await h.create(input="Weather?", tools=TOOLS, tool_choice="required")).status_code == 200
    sent = h.fake.requests[0]
    assert sent["tool_choice"] == "required"
    assert sent["messages"][0]["role"] == "user"


async def test_a_server_that_was_to_enforce_required_and_did_not_is_not_believed(
    harness_factory: Callable[..., Harness],
) -> None:
    """A server whose chat template has no tool support answers in prose whatever ``tool_choice``
    says (llama-server does): the answer streams as it comes, then the response fails, saying so."""
    h = harness_factory(
        [Reply(text="It is sunny.")] * 2, providers=(ProviderConfig("default", URL, server="vllm"),)
    )
    r = await h.create(input="Weather?", tools=TOOLS, tool_choice="required")
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert error["code"] == "model_output_invalid"
    assert "did not call a tool" in error["message"]
    assert "tool_choice_required = false" in error["message"]
    assert len(h.fake.requests) == 1  # not asked again: the server was trusted with it
    events = await stream(h, input="Weather?", tools=TOOLS, tool_choice="required")
    assert "".join(text_deltas(events)) == "It is sunny."  # streamed as it came
    assert events[-1]["type"] == "response.failed"


async def test_required_forces_only_the_first_model_call(harness_factory: Callable[..., Harness]) -> None:
    """After a hosted call the model answers from what it returned: a later call is not forced."""
    search = Reply(tool_calls=[ToolCall("web_search", '{"query": "Paris weather"}', "c1")])
    h = harness_factory(
        [search, Reply(text="Sunny.")], providers=(ProviderConfig("default", URL, server="vllm"),)
    )
    r = await h.create(input="Weather?", tools=[{"type": "web_search"}], tool_choice="required")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed"
    first, second = h.fake.requests
    assert (first["tool_choice"], second["tool_choice"]) == ("required", "auto")


# --- a named tool_choice where the server does not enforce it -------------------------------------

NAMED = {"type": "function", "name": "get_time"}
TIME_CALL = Reply(tool_calls=[ToolCall("get_time", '{"city": "Paris"}', "c1")])


async def test_named_choice_narrows_the_tools_and_requires(harness_factory: Callable[..., Harness]) -> None:
    provider = ProviderConfig("default", URL, capabilities={"tool_choice_named": False})
    h = harness_factory([TIME_CALL], providers=(provider,))
    r = await h.create(input="Time?", tools=TOOLS, tool_choice=NAMED)
    assert r.status_code == 200, r.text
    sent = h.fake.requests[0]
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_time"]
    assert sent["tool_choice"] == "required"
    assert sent["messages"][0]["role"] == "user"


async def test_named_choice_on_ollama_is_narrowed_and_checked(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory(
        [Reply(text="Noon."), TIME_CALL], providers=(ProviderConfig("default", URL, server="ollama"),)
    )
    r = await h.create(input="Time?", tools=TOOLS, tool_choice=NAMED)
    assert r.status_code == 200, r.text
    first, second = h.fake.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["get_time"]
    assert first["tool_choice"] == "auto"
    assert "You must answer by calling a tool (get_time)" in system_text(first)
    assert "did not call a tool" in second["messages"][-1]["content"]
    assert [(item["type"], item["name"]) for item in r.json()["output"]] == [("function_call", "get_time")]

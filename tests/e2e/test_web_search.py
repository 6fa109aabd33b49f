"""web_search in ``/v1/responses`` with the openai SDK: the search runs between model calls against a
local SearXNG-shaped server, the model reads the results, and its markdown links to them become
``url_citation`` annotations."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
from openai.types.responses import ResponseFunctionWebSearch, ResponseOutputMessage, ResponseOutputText

from parley.testing.fake_upstream import Reply, ToolCall
from parley.tools.web_search import NO_PROVIDER, NO_RECORDINGS, NOT_RECORDED
from tests.conftest import Harness
from tests.e2e.test_file_search import sdk_for
from tests.support.search_stub import SEARCH_URL, SearchStub
from tests.support.wire import check_event

NASA = {
    "url": "https://science.nasa.gov/saturn/",
    "title": "Saturn - NASA Science",
    "content": "Saturn's rings.",
}
WIKI = {
    "url": "https://en.wikipedia.org/wiki/Saturn",
    "title": "Saturn - Wikipedia",
    "content": "Sixth planet.",
}
BLOG = {"url": "https://blog.example.com/saturn", "title": "My Saturn blog", "content": "Rings!"}
TITAN = {"url": "https://science.nasa.gov/saturn/moons/titan/", "title": "Titan", "content": "Largest moon."}
PAGES = {"saturn rings": [NASA, WIKI, BLOG], "titan size": [TITAN]}
ANSWER = "Saturn has bright rings ([science.nasa.gov](https://science.nasa.gov/saturn/)). See [a blog](https://x.org)."
TOOL: Any = {"type": "web_search"}


def search(query: str, call_id: str | None = None) -> ToolCall:
    return ToolCall("web_search", json.dumps({"query": query}), id=call_id)


def searching(
    harness_factory: Callable[..., Harness], stub: SearchStub, script: list[Reply], **settings: Any
) -> Harness:
    settings.setdefault("web_search_provider", "searxng")
    settings.setdefault("searxng_url", SEARCH_URL)
    return harness_factory(script, wrap=stub.routed, **settings)


def tool_messages(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


async def test_a_question_answered_from_search_results_with_url_citations(
    harness_factory: Callable[..., Harness],
) -> None:
    stub = SearchStub(PAGES)
    h = searching(harness_factory, stub, [Reply(tool_calls=[search("saturn rings")]), Reply(text=ANSWER)])
    sdk = sdk_for(h)
    stream = await sdk.responses.create(model="m", input="Does Saturn have rings?", tools=[TOOL], stream=True)
    seen = [event async for event in stream]
    for event in seen:
        check_event(event.model_dump(mode="json"))
    types = [event.type for event in seen]
    start = types.index("response.output_item.added")
    assert types[start : start + 5] == [
        "response.output_item.added",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_item.done",
    ]
    assert types.count("response.output_text.annotation.added") == 1
    response = seen[-1].response  # type: ignore[union-attr]
    call, message = response.output
    assert isinstance(call, ResponseFunctionWebSearch)
    assert call.status == "completed"
    assert call.action.model_dump(exclude_none=True) == {"type": "search", "query": "saturn rings"}
    assert isinstance(message, ResponseOutputMessage)
    assert isinstance(message.content[0], ResponseOutputText)
    text = message.content[0].text
    assert text == ANSWER
    link = "[science.nasa.gov](https://science.nasa.gov/saturn/)"
    assert [a.model_dump() for a in message.content[0].annotations] == [
        {"type": "url_citation", "url": NASA["url"], "title": NASA["title"],
         "start_index": text.index(link), "end_index": text.index(link) + len(link)},
    ]  # fmt: skip
    (result,) = tool_messages(h.fake.requests[1])
    assert result.startswith('web_search found 3 results for "saturn rings":\n\n[1] Saturn - NASA Science\n')
    assert "URL: https://en.wikipedia.org/wiki/Saturn\nSixth planet." in result
    assert result.endswith("([example.org](https://example.org/page)). Use only the URLs above.")
    assert h.fake.requests[0]["tools"][0]["function"]["name"] == "web_search"
    stored = await sdk.responses.retrieve(response.id)
    assert stored.output_text == ANSWER


async def test_two_parallel_searches_run_concurrently_in_one_step(
    harness_factory: Callable[..., Harness],
) -> None:
    stub = SearchStub(PAGES, together=2)  # each search waits for the other: run one by one, they time out
    script = [Reply(tool_calls=[search("saturn rings"), search("titan size")]), Reply(text="Done.")]
    h = searching(harness_factory, stub, script)
    response = await sdk_for(h).responses.create(model="m", input="Saturn and Titan?", tools=[TOOL])
    assert [item.type for item in response.output] == ["web_search_call", "web_search_call", "message"]
    queries = [item.model_dump()["action"]["query"] for item in response.output[:2]]
    assert queries == ["saturn rings", "titan size"]
    assert len(stub.requests) == 2
    sent = h.fake.requests[1]["messages"]
    assert [m["role"] for m in sent] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]  # call, result, ...
    assert "Titan\nURL: https://science.nasa.gov/saturn/moons/titan/" in sent[4]["content"]


async def test_include_sends_the_sources_only_when_asked(harness_factory: Callable[..., Harness]) -> None:
    script = [Reply(tool_calls=[search("saturn rings")]), Reply(text="Yes.")] * 2
    h = searching(harness_factory, SearchStub(PAGES), script)
    sdk = sdk_for(h)
    plain = await sdk.responses.create(model="m", input="Rings?", tools=[TOOL])
    assert plain.output[0].model_dump()["action"]["sources"] is None
    asked = await sdk.responses.create(
        model="m", input="Rings?", tools=[TOOL], include=["web_search_call.action.sources"]
    )
    call = asked.output[0]
    assert isinstance(call, ResponseFunctionWebSearch)
    assert call.action.model_dump()["sources"] == [
        {"type": "url", "url": p["url"]} for p in PAGES["saturn rings"]
    ]
    got = await sdk.responses.retrieve(plain.id, include=["web_search_call.action.sources"])
    assert got.output[0].model_dump()["action"]["sources"][0]["url"] == NASA["url"]
    raw = (await h.client.get(f"/v1/responses/{plain.id}")).json()["output"][0]
    assert set(raw) == {"id", "type", "status", "action"}  # what the model read stays private


async def test_allowed_domains_filter_what_the_model_reads(harness_factory: Callable[..., Harness]) -> None:
    stub = SearchStub(PAGES)
    h = searching(harness_factory, stub, [Reply(tool_calls=[search("saturn rings")]), Reply(text="Ok.")])
    domains = ["https://NASA.gov/", "wikipedia.org"]
    tool: Any = {
        "type": "web_search_preview",
        "filters": {"allowed_domains": domains},
        "search_context_size": "low",
        "user_location": {"type": "approximate", "country": "US"},
    }
    response = await sdk_for(h).responses.create(
        model="m", input="Rings?", tools=[tool], include=["web_search_call.action.sources"]
    )
    assert [s["url"] for s in response.output[0].model_dump()["action"]["sources"]] == [
        NASA["url"],
        WIKI["url"],
    ]
    (result,) = tool_messages(h.fake.requests[1])
    assert "blog.example.com" not in result
    assert result.startswith("web_search found 2 results")


async def test_a_provider_failure_is_a_tool_error_the_model_reads(
    harness_factory: Callable[..., Harness],
) -> None:
    stub = SearchStub(PAGES, status=500)
    script = [Reply(tool_calls=[search("saturn rings")]), Reply(text="The search failed, sorry.")]
    h = searching(harness_factory, stub, script)
    sdk = sdk_for(h)
    response = await sdk.responses.create(model="m", input="Rings?", tools=[TOOL])
    assert response.status == "completed"
    call = response.output[0]
    assert isinstance(call, ResponseFunctionWebSearch)
    assert call.status == "failed"
    assert tool_messages(h.fake.requests[1]) == [
        'web_search failed: SearXNG answered HTTP 500: {"error": "boom"}'
    ]
    assert response.output_text == "The search failed, sorry."
    assert (await sdk.responses.retrieve(response.id)).status == "completed"
    assert (await h.client.get("/health")).status_code == 200


async def test_without_a_provider_each_search_is_a_tool_error(
    harness_factory: Callable[..., Harness],
) -> None:
    script = [Reply(tool_calls=[search("saturn rings")]), Reply(text="I cannot search.")]
    h = harness_factory(script)
    response = await sdk_for(h).responses.create(model="m", input="Rings?", tools=[TOOL])
    assert response.status == "completed"
    assert tool_messages(h.fake.requests[1]) == [f"web_search failed: {NO_PROVIDER}"]


async def test_a_later_turn_reads_back_what_the_search_found(harness_factory: Callable[..., Harness]) -> None:
    script = [Reply(tool_calls=[search("saturn rings")]), Reply(text="Yes."), Reply(text="NASA.")]
    h = searching(harness_factory, SearchStub(PAGES), script)
    sdk = sdk_for(h)
    first = await sdk.responses.create(model="m", input="Rings?", tools=[TOOL])
    await sdk.responses.create(model="m", input="Who says so?", previous_response_id=first.id)
    assert tool_messages(h.fake.requests[2]) == tool_messages(h.fake.requests[1])


async def test_without_external_web_access_only_recorded_results_are_read(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    recordings = tmp_path / "recordings"
    live = [Reply(tool_calls=[search("saturn rings")]), Reply(text="Yes.")]
    recorder = searching(
        harness_factory, SearchStub(PAGES), live, recording_mode="record", recordings_dir=recordings
    )
    await sdk_for(recorder).responses.create(model="m", input="Rings?", tools=[TOOL])
    down = SearchStub(status=503)  # any live call would fail
    script = [Reply(tool_calls=[search("saturn rings"), search("titan size")]), Reply(text="Yes.")]
    h = searching(harness_factory, down, script, recordings_dir=recordings)
    offline: Any = {"type": "web_search", "external_web_access": False}
    response = await sdk_for(h).responses.create(model="m", input="Rings?", tools=[offline])
    recorded, missing = tool_messages(h.fake.requests[1])
    assert recorded.startswith('web_search found 3 results for "saturn rings"')
    assert missing == f"web_search failed: {NOT_RECORDED}"
    assert down.requests == []
    assert response.status == "completed"
    nothing = searching(harness_factory, down, [Reply(tool_calls=[search("q")]), Reply(text="No.")])
    await sdk_for(nothing).responses.create(model="m", input="Rings?", tools=[offline])
    assert tool_messages(nothing.fake.requests[1]) == [f"web_search failed: {NO_RECORDINGS}"]


async def test_the_sdk_reads_every_web_search_event(harness_factory: Callable[..., Harness]) -> None:
    h = searching(
        harness_factory, SearchStub(PAGES), [Reply(tool_calls=[search("titan size")]), Reply(text="Big.")]
    )
    sdk: openai.AsyncOpenAI = sdk_for(h)
    async with sdk.responses.stream(model="m", input="Titan?", tools=[TOOL]) as stream:
        final = await stream.get_final_response()
    assert final.output_text == "Big."


async def test_tool_choice_forces_the_search_on_the_first_model_call_only(
    harness_factory: Callable[..., Harness],
) -> None:
    stub = SearchStub(PAGES)
    h = searching(harness_factory, stub, [Reply(tool_calls=[search("saturn rings")]), Reply(text=ANSWER)])
    choice: Any = {"type": "web_search_preview"}
    response = await sdk_for(h).responses.create(
        model="m", input="Saturn?", tools=[{"type": "web_search_preview"}], tool_choice=choice
    )
    assert [item.type for item in response.output] == ["web_search_call", "message"]
    assert h.fake.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "web_search"}}
    assert h.fake.requests[1]["tool_choice"] == "auto"
    undeclared = await h.client.post(
        "/v1/responses",
        json={"model": "m", "input": "x", "tool_choice": {"type": "file_search"}, "tools": [TOOL]},
    )
    assert undeclared.status_code == 400
    assert undeclared.json()["error"]["param"] == "tool_choice"


async def test_a_step_with_a_search_and_a_function_call_runs_the_search_and_hands_back_the_call(
    harness_factory: Callable[..., Harness],
) -> None:
    stub = SearchStub(PAGES)
    calls = [search("saturn rings"), ToolCall("lookup", '{"id": 7}')]
    h = searching(harness_factory, stub, [Reply(tool_calls=calls)])
    function: Any = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    response = await sdk_for(h).responses.create(
        model="m", input="Saturn and record 7?", tools=[TOOL, function], parallel_tool_calls=False
    )
    # The model asked for the search first: its item comes first, the caller's call after it.
    assert [item.type for item in response.output] == ["web_search_call", "function_call"]
    searched: Any = response.output[0]
    assert searched.status == "completed"
    assert len(h.fake.requests) == 1  # the turn ends with the caller's call: no second model call
    assert h.fake.requests[0]["parallel_tool_calls"] is False


async def test_a_mixed_step_streams_its_items_in_the_order_the_model_asked(
    harness_factory: Callable[..., Harness],
) -> None:
    stub = SearchStub(PAGES)
    steps = [
        [ToolCall("lookup", '{"id": 1}'), search("saturn rings"), ToolCall("lookup", '{"id": 2}')],
        [search("saturn rings"), ToolCall("lookup", '{"id": 3}'), search("titan size")],
    ]
    h = searching(harness_factory, stub, [Reply(tool_calls=calls) for calls in steps])
    function: Any = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    expected = [
        ["function_call", "web_search_call", "function_call"],
        ["web_search_call", "function_call", "web_search_call"],
    ]
    for kinds in expected:
        stream = await sdk_for(h).responses.create(model="m", input="?", tools=[TOOL, function], stream=True)
        seen = [event async for event in stream]
        added = [(e.output_index, e.item.type) for e in seen if e.type == "response.output_item.added"]
        assert added == list(enumerate(kinds))
        final: Any = seen[-1]
        assert [item.type for item in final.response.output] == kinds
        arguments = [item.arguments for item in final.response.output if item.type == "function_call"]
        assert len(arguments) == 1 or arguments[0] < arguments[1]

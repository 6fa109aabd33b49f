"""Remote MCP with the openai SDK, against a real MCP server (the ``mcp`` SDK) on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from parley.testing.fake_upstream import Reply, ToolCall
from tests.conftest import Harness
from tests.support.mcp_server import McpTestServer
from tests.support.workers import free_port


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[McpTestServer]:
    server = McpTestServer().start()
    yield server
    server.stop()


def sdk_for(harness: Harness) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://parley.test/v1", api_key="test", http_client=harness.client, max_retries=0
    )


def mcp_tool(url: str, **options: Any) -> Any:
    return {"type": "mcp", "server_label": "demo", "server_url": url, "require_approval": "never", **options}


def offered(body: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools") or ()]


def tool_messages(body: dict[str, Any]) -> list[str]:
    return [str(m["content"]) for m in body["messages"] if m["role"] == "tool"]


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_a_tool_is_listed_and_called_over_both_transports(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer, transport: str
) -> None:
    url = mcp_server.http_url if transport == "http" else mcp_server.sse_url
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("demo__add", '{"a": 2, "b": 3}')]), Reply(text="It is 5.")],
        allow_private_urls=True,
    )
    response = await sdk_for(h).responses.create(model="fake-model", input="2+3?", tools=[mcp_tool(url)])

    assert response.status == "completed"
    assert [item.type for item in response.output] == ["mcp_list_tools", "mcp_call", "message"]
    listed, call = response.output[0], response.output[1]
    assert listed.type == "mcp_list_tools"
    assert listed.error is None
    assert sorted(tool.name for tool in listed.tools) == ["add", "explode", "greet"]
    assert call.type == "mcp_call"
    assert call.output == "5"
    assert call.error is None
    assert (call.name, call.server_label, call.arguments) == ("add", "demo", '{"a": 2, "b": 3}')
    assert response.output_text == "It is 5."
    assert sorted(offered(h.fake.requests[0])) == ["demo__add", "demo__explode", "demo__greet"]
    assert tool_messages(h.fake.requests[1]) == ["5"]


async def test_the_stream_shows_the_mcp_events_in_order(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("demo__greet", '{"name": "Ada"}')]), Reply(text="Done.")],
        allow_private_urls=True,
    )
    stream = await sdk_for(h).responses.create(
        model="fake-model", input="Greet Ada", tools=[mcp_tool(mcp_server.http_url)], stream=True
    )
    kinds = [event.type async for event in stream]
    mcp_kinds = [kind for kind in kinds if "mcp" in kind or kind.startswith("response.output_item")]
    assert mcp_kinds[:10] == [
        "response.output_item.added",
        "response.mcp_list_tools.in_progress",
        "response.mcp_list_tools.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.mcp_call.in_progress",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.completed",
        "response.output_item.done",
    ]
    assert kinds[-1] == "response.completed"


async def test_allowed_tools_filter_what_the_model_is_offered(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    h = harness_factory([Reply(text="Only greet.")], allow_private_urls=True)
    tool = mcp_tool(mcp_server.http_url, allowed_tools=["greet"])
    response = await sdk_for(h).responses.create(model="fake-model", input="hi", tools=[tool])
    listed = response.output[0]
    assert listed.type == "mcp_list_tools"
    assert [t.name for t in listed.tools] == ["greet"]
    assert offered(h.fake.requests[0]) == ["demo__greet"]


async def test_a_tool_error_is_an_mcp_call_error_and_the_model_goes_on(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("demo__explode", "{}")]), Reply(text="It failed.")],
        allow_private_urls=True,
    )
    response = await sdk_for(h).responses.create(
        model="fake-model", input="boom", tools=[mcp_tool(mcp_server.sse_url)]
    )
    call = response.output[1]
    assert call.type == "mcp_call"
    assert call.output is None
    assert call.error is not None
    assert response.status == "completed"
    assert response.output_text == "It failed."
    assert tool_messages(h.fake.requests[1])[0].startswith("Error:")


async def test_bearer_authorization_reaches_the_server_and_nowhere_else(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    secret = "s3cr3t-token-for-mcp"
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("demo__add", '{"a": 1, "b": 1}')]), Reply(text="2.")],
        allow_private_urls=True,
    )
    tool = mcp_tool(mcp_server.http_url, authorization=secret, headers={"x-team": "blue"})
    response = await sdk_for(h).responses.create(model="fake-model", input="1+1", tools=[tool])

    assert f"Bearer {secret}" in mcp_server.authorizations
    assert secret not in response.model_dump_json()
    assert "x-team" not in json.dumps(response.model_dump()["tools"])
    stored = await h.client.get(f"/v1/responses/{response.id}")
    assert secret not in stored.text
    items = await h.client.get(f"/v1/responses/{response.id}/input_items")
    assert secret not in items.text
    assert all(secret not in json.dumps(body) for body in h.fake.requests)


async def test_a_server_that_is_down_gives_a_failed_list_and_a_clean_response(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="The tools are unavailable.")], allow_private_urls=True)
    url = f"http://127.0.0.1:{free_port()}/mcp"
    response = await sdk_for(h).responses.create(model="fake-model", input="hi", tools=[mcp_tool(url)])
    assert response.status == "completed"
    listed = response.output[0]
    assert listed.type == "mcp_list_tools"
    assert listed.error
    assert listed.tools == []
    assert offered(h.fake.requests[0]) == []
    assert (await h.client.get("/health")).status_code == 200


async def test_a_private_address_is_refused_unless_allowed(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    h = harness_factory([Reply(text="No tools.")], allow_private_urls=False)
    seen = len(mcp_server.authorizations)
    response = await sdk_for(h).responses.create(
        model="fake-model", input="hi", tools=[mcp_tool(mcp_server.http_url)]
    )
    listed = response.output[0]
    assert listed.type == "mcp_list_tools"
    assert listed.error is not None
    assert "non-public address" in listed.error
    assert len(mcp_server.authorizations) == seen  # refused before any request was sent


async def _approval_request(h: Harness, url: str) -> tuple[openai.AsyncOpenAI, Any]:
    sdk = sdk_for(h)
    first = await sdk.responses.create(
        model="fake-model",
        input="2+3?",
        tools=[mcp_tool(url, require_approval="always")],
    )
    assert [item.type for item in first.output] == ["mcp_list_tools", "mcp_approval_request"]
    assert first.status == "completed"
    assert len(h.fake.requests) == 1
    return sdk, first


async def test_an_approved_call_runs_and_the_model_answers(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("demo__add", '{"a": 2, "b": 3}')]), Reply(text="It is 5.")],
        allow_private_urls=True,
    )
    sdk, first = await _approval_request(h, mcp_server.http_url)
    request = first.output[1]
    second = await sdk.responses.create(
        model="fake-model",
        previous_response_id=first.id,
        input=[{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}],
        tools=[mcp_tool(mcp_server.http_url, require_approval="always")],
    )
    assert [item.type for item in second.output] == ["mcp_call", "message"]  # the list is reused
    call = second.output[0]
    assert call.type == "mcp_call"
    assert call.output == "5"
    assert call.approval_request_id == request.id
    assert second.output_text == "It is 5."
    assert tool_messages(h.fake.requests[1])[-1] == "5"


async def test_a_denied_call_does_not_run_and_the_model_is_told(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("demo__add", '{"a": 2, "b": 3}')]), Reply(text="Not allowed, then.")],
        allow_private_urls=True,
    )
    sdk, first = await _approval_request(h, mcp_server.sse_url)
    second = await sdk.responses.create(
        model="fake-model",
        previous_response_id=first.id,
        input=[
            {
                "type": "mcp_approval_response",
                "approval_request_id": first.output[1].id,
                "approve": False,
                "reason": "not today",
            }
        ],
        tools=[mcp_tool(mcp_server.sse_url, require_approval="always")],
    )
    assert [item.type for item in second.output] == ["message"]
    assert "denied" in json.dumps(h.fake.requests[1]["messages"])


async def test_an_approval_in_the_full_input_runs_the_call(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("demo__greet", '{"name": "Ada"}')]), Reply(text="Greeted.")],
        allow_private_urls=True,
    )
    tools = [mcp_tool(mcp_server.http_url, require_approval={"always": {"tool_names": ["greet"]}})]
    sdk = sdk_for(h)
    first = await sdk.responses.create(model="fake-model", input="Greet Ada", tools=tools, store=False)
    request = first.output[1]
    assert request.type == "mcp_approval_request"
    replay: Any = [{"role": "user", "content": "Greet Ada"}, *(item.model_dump() for item in first.output)]
    approval: Any = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    second = await sdk.responses.create(model="fake-model", input=[*replay, approval], tools=tools)
    assert [item.type for item in second.output] == ["mcp_call", "message"]
    assert second.output[0].output == "Hello, Ada!"  # type: ignore[union-attr]


async def test_an_approval_for_an_unknown_request_is_a_400(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    h = harness_factory([], allow_private_urls=True)
    answer = await h.create(
        input=[{"type": "mcp_approval_response", "approval_request_id": "mcp_nope", "approve": True}],
        tools=[mcp_tool(mcp_server.http_url)],
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "input[0].approval_request_id"


async def test_an_approval_on_a_conversation_runs_the_call_and_lists_once(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    h = harness_factory(
        [
            Reply(tool_calls=[ToolCall("demo__add", '{"a": 4, "b": 4}')]),
            Reply(text="It is 8."),
            Reply(text="Anything else?"),
        ],
        allow_private_urls=True,
    )
    sdk = sdk_for(h)
    tools = [mcp_tool(mcp_server.http_url, require_approval="always")]
    conversation = await sdk.conversations.create()
    first = await sdk.responses.create(
        model="fake-model", conversation=conversation.id, input="4+4?", tools=tools
    )
    approval: Any = {
        "type": "mcp_approval_response",
        "approval_request_id": first.output[1].id,
        "approve": True,
    }
    second = await sdk.responses.create(
        model="fake-model", conversation=conversation.id, input=[approval], tools=tools
    )
    assert [item.type for item in second.output] == ["mcp_call", "message"]
    third = await sdk.responses.create(
        model="fake-model", conversation=conversation.id, input="Thanks", tools=tools
    )
    assert [item.type for item in third.output] == ["message"]  # neither listed nor called again
    assert offered(h.fake.requests[2]) == ["demo__add", "demo__greet", "demo__explode"]


async def test_tool_choice_forces_an_mcp_tool_on_the_first_model_call_only(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("demo__greet", '{"name": "Ada"}')]), Reply(text="Greeted.")],
        allow_private_urls=True,
    )
    choice: Any = {"type": "mcp", "server_label": "demo", "name": "greet"}
    response = await sdk_for(h).responses.create(
        model="fake-model", input="hi", tools=[mcp_tool(mcp_server.http_url)], tool_choice=choice
    )
    assert response.output_text == "Greeted."
    assert h.fake.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "demo__greet"}}
    assert h.fake.requests[1]["tool_choice"] == "auto"  # forcing again would loop
    echoed: Any = response.tool_choice
    assert echoed.model_dump(exclude_none=True) == {"type": "mcp", "server_label": "demo", "name": "greet"}


async def test_tool_choice_naming_a_server_requires_one_of_its_tools(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    called = Reply(tool_calls=[ToolCall("demo__add", '{"a": 2, "b": 3}')])  # as required
    h = harness_factory([called, Reply(text="Fine.")], allow_private_urls=True)
    function: Any = {"type": "function", "name": "local", "parameters": {"type": "object"}}
    tools: Any = [mcp_tool(mcp_server.http_url, allowed_tools=["add", "greet"]), function]
    choice: Any = {"type": "mcp", "server_label": "demo"}
    await sdk_for(h).responses.create(model="fake-model", input="hi", tools=tools, tool_choice=choice)
    assert h.fake.requests[0]["tool_choice"] == "required"
    assert sorted(offered(h.fake.requests[0])) == ["demo__add", "demo__greet"]
    unknown: Any = {"type": "mcp", "server_label": "elsewhere"}
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk_for(h).responses.create(model="fake-model", input="hi", tools=tools, tool_choice=unknown)
    assert refused.value.body["param"] == "tool_choice"  # type: ignore[index]


async def test_an_approved_call_counts_against_max_tool_calls(
    harness_factory: Callable[..., Harness], mcp_server: McpTestServer
) -> None:
    again = Reply(tool_calls=[ToolCall("demo__add", '{"a": 5, "b": 5}')])
    h = harness_factory(
        [Reply(tool_calls=[ToolCall("demo__add", '{"a": 2, "b": 3}')]), again],
        allow_private_urls=True,
    )
    sdk, first = await _approval_request(h, mcp_server.http_url)
    approval: Any = {
        "type": "mcp_approval_response",
        "approval_request_id": first.output[1].id,
        "approve": True,
    }
    tools = [mcp_tool(mcp_server.http_url, require_approval="always")]
    second = await sdk.responses.create(
        model="fake-model", previous_response_id=first.id, input=[approval], tools=tools, max_tool_calls=1
    )
    # The approved call was the one call allowed: the model's next call is not run.
    assert [item.type for item in second.output] == ["mcp_call"]
    assert second.status == "incomplete"
    assert second.model_dump()["incomplete_details"] == {"reason": "max_tool_calls"}
    assert len(h.fake.requests) == 2  # no model call after the step whose call was not run

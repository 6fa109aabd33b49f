"""The playground page in a real browser against a real server: a streamed answer seen growing
before it completes, the chain continued, a function call answered, a stored response continued
from its link, the copied curl and Python snippets run for real, and a bad tools box refused."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.async_api import Page, expect

from parley.testing.fake_upstream import Reply, ToolCall
from tests.e2e.conftest import MODEL, ScriptedUpstream, own_parley, post_response
from tests.support.browser import snapshot
from tests.support.mcp_server import McpTestServer

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city; it's never wrong.",  # a ' for the shell to survive
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
SLOW = "The first answer comes one word at a time, slowly enough to watch it grow on the page."
RESPONSE_ID = re.compile(r"^resp_")
MCP_URL = "http://127.0.0.1:9/mcp"  # never called: the request is only copied


def playground(parley_url: str, query: str = "") -> str:
    return parley_url.removesuffix("/v1") + "/ui#/playground" + query


async def send(page: Page) -> None:
    await page.get_by_role("button", name="Send", exact=True).click()


def messages(request: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [message for message in request["messages"] if message["role"] == role]


async def test_a_streamed_answer_grows_live_and_the_next_send_continues_the_chain(
    page: Page, parley_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text=SLOW, token_delay=0.12), Reply(text="The second answer."))
    await page.goto(playground(parley_url))
    await expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    await expect(page.get_by_label("Model", exact=True).locator("option")).to_have_text([MODEL])
    await page.get_by_label("Instructions").fill("Answer in one sentence.")
    await page.get_by_label("Input", exact=True).fill("Tell me something.")
    await page.get_by_label("Function tools (JSON)").fill(json.dumps([WEATHER]))
    await send(page)

    answer = page.get_by_label("Answer so far")
    events = page.get_by_role("region", name="Events")
    await expect(answer).to_contain_text("The first answer")
    assert "response.completed" not in await events.inner_text()  # seen while still streaming
    assert await answer.inner_text() != SLOW
    await snapshot(page, "playground-streaming")

    await expect(answer).to_have_text(SLOW)
    for kind in ("response.created", "response.output_text.delta", "response.completed"):
        await expect(events).to_contain_text(kind)
    result = page.get_by_role("region", name="Answer")
    first_link = result.get_by_role("link", name=RESPONSE_ID)
    await expect(first_link).to_be_visible()
    first_id = await first_link.inner_text()
    await expect(result.locator("article.item-message")).to_contain_text(SLOW)
    sent = upstream.requests[0]
    assert messages(sent, "system")[0]["content"] == "Answer in one sentence."
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["get_weather"]
    assert sent["stream"] is True

    await page.get_by_label("Input", exact=True).fill("And another thing?")
    await send(page)
    await expect(answer).to_have_text("The second answer.")
    turns = page.get_by_role("region", name="Turns").get_by_role("listitem")
    await expect(turns).to_have_count(2)
    await expect(turns.first).to_contain_text("Tell me something.")
    await expect(turns.first.get_by_role("link", name=first_id)).to_be_visible()
    await expect(turns.last).to_contain_text("The second answer.")
    second = upstream.requests[-1]
    assert [m["content"] for m in messages(second, "assistant")] == [SLOW]  # the first turn, carried
    assert messages(second, "user")[-1]["content"] == "And another thing?"
    await snapshot(page, "playground-chain")

    await page.get_by_role("button", name="New chat").click()
    await expect(turns).to_have_count(0)
    await expect(page.locator("#pg-curl")).not_to_contain_text("previous_response_id")


async def test_a_function_call_is_answered_with_the_output_typed_for_it(
    page: Page, parley_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(
        Reply(tool_calls=[ToolCall("get_weather", '{"city":"Paris"}', id="call_paris")]),
        Reply(text="Sunny in Paris."),
    )
    await page.goto(playground(parley_url))
    await page.get_by_label("Input", exact=True).fill("The weather in Paris?")
    await page.get_by_label("Function tools (JSON)").fill(json.dumps([WEATHER]))
    await send(page)

    await expect(page.locator("article.item-function_call")).to_contain_text("get_weather")
    output = page.get_by_label("Output of get_weather (call_paris)")
    await expect(output).to_be_visible()
    await output.fill('{"temperature": 21, "sky": "clear"}')
    await snapshot(page, "playground-function-call")
    await send(page)

    await expect(page.get_by_label("Answer so far")).to_have_text("Sunny in Paris.")
    typed = '{"temperature": 21, "sky": "clear"}'
    tool = messages(upstream.requests[-1], "tool")
    assert [(m["tool_call_id"], m["content"]) for m in tool] == [("call_paris", typed)]
    await expect(page.get_by_label("Output of get_weather (call_paris)")).to_have_count(0)  # answered


async def test_a_stored_response_is_continued_from_the_link_to_it(
    page: Page, parley_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="Lyon is second."), Reply(text="Marseille is third."))
    first = await post_response(parley_url, input="Which city is second in France?")
    await page.goto(playground(parley_url, f"?previous_response_id={first['id']}"))
    await expect(page.get_by_text("Continuing")).to_contain_text(first["id"])
    await expect(page.get_by_role("link", name=first["id"]).first).to_have_attribute(
        "href", f"#/responses/{first['id']}"
    )
    await page.get_by_label("Input", exact=True).fill("And third?")
    await send(page)
    await expect(page.get_by_label("Answer so far")).to_have_text("Marseille is third.")
    assert [m["content"] for m in messages(upstream.requests[-1], "assistant")] == ["Lyon is second."]


def run(command: list[str]) -> str:
    """A snippet run as a user would: the key from the environment, no proxy, loopback only."""
    env = {"PATH": os.environ.get("PATH", ""), "OPENAI_API_KEY": "sk-anything", "NO_PROXY": "*"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_copied_curl_and_python_snippets_run_and_send_the_same_request(
    page: Page, parley_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="Hello from Python."), Reply(text="Hello from curl."))
    await page.goto(playground(parley_url))
    await page.get_by_label("API key").fill("sk-tab-secret")  # the server needs none; never copied
    await page.get_by_role("button", name="Use").click()
    await expect(page.get_by_label("Model", exact=True)).to_have_value(MODEL)
    await page.get_by_label("Instructions").fill("Greet. Don't be \"formal\"; it's fine.")
    await page.get_by_label("Input", exact=True).fill("Hi, it's me.")
    await page.get_by_label("Function tools (JSON)").fill(json.dumps([WEATHER]))
    await page.get_by_label("Store the response").uncheck()

    await page.get_by_text("Python", exact=True).click()  # open its <details>
    await page.get_by_role("button", name="Copy Python").click()
    copied = page.get_by_role("status").filter(has_text=re.compile("Copied|Select the text"))
    await expect(copied).to_be_visible()
    await page.get_by_text("curl", exact=True).click()
    await snapshot(page, "playground-snippets")
    python = await page.locator("#pg-python").text_content() or ""
    curl = await page.locator("#pg-curl").text_content() or ""
    assert "sk-tab-secret" not in python + curl
    assert "store=False" in python
    assert "stream" not in python + curl

    printed = await asyncio.to_thread(run, [sys.executable, "-c", python])
    assert printed.strip() == "Hello from Python."
    by_python = upstream.requests[0]
    assert messages(by_python, "system")[0]["content"] == "Greet. Don't be \"formal\"; it's fine."
    assert messages(by_python, "user")[0]["content"] == "Hi, it's me."
    assert by_python["tools"][0]["function"]["description"] == WEATHER["description"]

    if shutil.which("curl") is None:
        pytest.skip("curl is not on PATH: the Python snippet was checked, the curl one is not")
    answered = json.loads(await asyncio.to_thread(run, ["bash", "-c", curl]))
    assert answered["output"][0]["content"][0]["text"] == "Hello from curl."
    assert answered["store"] is False
    by_curl = upstream.requests[1]
    assert (by_curl["messages"], by_curl["tools"]) == (by_python["messages"], by_python["tools"])


async def test_function_tools_that_are_not_a_json_array_are_refused_and_nothing_is_sent(
    page: Page, parley_url: str, upstream: ScriptedUpstream
) -> None:
    await page.goto(playground(parley_url))
    await page.get_by_label("Input", exact=True).fill("Anything.")
    tools = page.get_by_label("Function tools (JSON)")
    await tools.fill('[{"type": "function", "name": ')
    await send(page)
    await expect(page.get_by_role("alert")).to_contain_text("Function tools are not valid JSON")
    await snapshot(page, "playground-bad-tools")
    await tools.fill('{"type": "function", "name": "get_weather"}')
    await send(page)
    await expect(page.get_by_role("alert")).to_contain_text("must be a JSON array")
    await tools.fill('[{"name": "get_weather"}]')
    await send(page)
    await expect(page.get_by_role("alert")).to_contain_text('"type": "function"')
    await expect(page.get_by_role("region", name="Events").get_by_role("listitem")).to_have_count(0)
    assert upstream.requests == []


@pytest.fixture
def vector_store(parley_url: str) -> Iterator[dict[str, Any]]:
    """A vector store of this test's own on the shared server, deleted afterwards."""
    with httpx2.Client(base_url=parley_url, timeout=20) as client:
        created = client.post("/vector_stores", json={"name": "Playground docs"})
        assert created.status_code == 200, created.text
        store: dict[str, Any] = created.json()
        yield store
        client.delete(f"/vector_stores/{store['id']}")


async def test_the_built_in_tools_chosen_in_the_form_are_in_the_request(
    page: Page, parley_url: str, upstream: ScriptedUpstream, vector_store: dict[str, Any]
) -> None:
    await page.goto(playground(parley_url))
    await page.get_by_label("Input", exact=True).fill("Search my docs.")
    await page.get_by_label("File search").check()
    await send(page)
    await expect(page.get_by_role("alert")).to_contain_text("at least one vector store")
    await page.get_by_label("Vector stores").select_option(vector_store["id"])
    await page.get_by_label("Max results").fill("3")
    await page.get_by_label("Web search").check()
    await page.get_by_label("Server label").fill("docs")
    await page.get_by_label("Server URL").fill(MCP_URL)
    await page.get_by_label("Require approval").select_option("always")
    await page.get_by_text("curl", exact=True).click()
    curl = await page.locator("#pg-curl").text_content() or ""
    body = json.loads(curl.split("-d '", 1)[1].removesuffix("'"))
    assert body["tools"] == [
        {"type": "file_search", "vector_store_ids": [vector_store["id"]], "max_num_results": 3},
        {"type": "web_search"},
        {"type": "mcp", "server_label": "docs", "server_url": MCP_URL, "require_approval": "always"},
    ]
    assert "store" not in body  # left as the API's default
    assert "instructions" not in body
    await snapshot(page, "playground-tools")
    assert upstream.requests == []


async def test_stop_ends_a_stream_part_way(page: Page, parley_url: str, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text=SLOW, token_delay=0.3))
    await page.goto(playground(parley_url))
    await page.get_by_label("Input", exact=True).fill("Go on.")
    await send(page)
    answer = page.get_by_label("Answer so far")
    await expect(answer).to_contain_text("The first")
    await page.get_by_role("button", name="Stop").click()
    await expect(page.get_by_role("region", name="Answer").get_by_role("status")).to_have_text("Stopped.")
    await expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    await page.wait_for_timeout(600)  # nothing more arrives
    assert SLOW not in await answer.inner_text()
    await expect(page.get_by_role("region", name="Turns").get_by_role("listitem")).to_have_count(0)


async def test_a_refused_request_and_a_failed_response_are_alerts(
    page: Page, parley_url: str, upstream: ScriptedUpstream
) -> None:
    await page.goto(playground(parley_url, "?previous_response_id=resp_nope"))
    await expect(page.get_by_role("alert")).to_contain_text("resp_nope")  # it cannot be read
    await page.get_by_label("Input", exact=True).fill("Continue, please.")
    await send(page)
    await expect(page.get_by_role("alert")).to_have_count(2)  # and Parley refuses to continue it
    await expect(page.get_by_role("alert").last).to_contain_text("resp_nope")
    assert upstream.requests == []

    await page.get_by_role("button", name="New chat").click()
    await expect(page.get_by_role("alert")).to_have_count(0)
    refusal = {"error": {"message": "The upstream says no.", "type": "invalid_request_error"}}
    upstream.script(Reply(status=400, error_body=refusal))
    await page.get_by_label("Input", exact=True).fill("Try anyway.")
    await send(page)
    await expect(page.get_by_role("alert")).to_contain_text("The upstream says no.")
    await expect(page.get_by_role("region", name="Events")).to_contain_text("response.failed")
    await expect(page.get_by_role("region", name="Answer").get_by_role("status")).to_contain_text("failed")
    await snapshot(page, "playground-failed")


@pytest.fixture
def mcp_url(upstream: ScriptedUpstream, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A server of its own that may call an MCP server on loopback, and that MCP server's URL."""
    mcp = McpTestServer().start()
    try:
        with own_parley(upstream, tmp_path, "parley-mcp", allow_private_urls=True) as url:
            yield url, mcp.http_url
    finally:
        mcp.stop()


async def test_an_mcp_call_waiting_for_approval_runs_once_approved(
    page: Page, mcp_url: tuple[str, str], upstream: ScriptedUpstream
) -> None:
    base, server = mcp_url
    upstream.script(Reply(tool_calls=[ToolCall("demo__greet", '{"name": "Ada"}')]), Reply(text="Said hello."))
    await page.goto(playground(base))
    await page.get_by_label("Input", exact=True).fill("Greet Ada.")
    await page.get_by_label("Server label").fill("demo")
    await page.get_by_label("Server URL").fill(server)
    await page.get_by_label("Require approval").select_option("always")
    await send(page)

    asked = page.get_by_role("group", name="Run greet on demo?")
    await expect(asked).to_contain_text('{"name": "Ada"}')
    assert len(upstream.requests) == 1  # nothing ran yet
    await asked.get_by_label("Approve").check()
    await snapshot(page, "playground-mcp-approval")
    await send(page)

    await expect(page.get_by_label("Answer so far")).to_have_text("Said hello.")
    await expect(page.locator("article.item-mcp_call")).to_contain_text("greet")
    assert len(upstream.requests) == 2
    assert [m["content"] for m in messages(upstream.requests[-1], "tool")][-1].startswith("Hello")

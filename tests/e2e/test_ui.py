"""The web UI in a real browser (headless Chromium, ``tests/support/browser.py``) against a real
server with stored responses: the log, a response's detail with its items and chain, the key.
Assertions are on the DOM; each page's screenshot is kept in ``test-artifacts/ui/``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.async_api import Page, expect

from parley.config import ConfiguredKey
from parley.storage.backends import open_stores
from parley.testing.fake_upstream import Reply, ToolCall
from tests.e2e.conftest import MODEL, ScriptedUpstream, own_parley, post_response
from tests.support.browser import ARTIFACTS, snapshot

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


async def test_the_log_lists_responses_newest_first_and_a_response_shows_its_items_and_chain(
    page: Page, parley_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(
        Reply(text="Paris it is."),
        Reply(reasoning="Weather, then.", tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')]),
    )
    first = await post_response(parley_url, input="Let us talk about Paris.")
    second = await post_response(
        parley_url, input="And the weather there?", previous_response_id=first["id"], tools=[WEATHER]
    )
    ui = parley_url.removesuffix("/v1") + "/ui"

    await page.goto(ui)
    await expect(page.get_by_role("heading", name="Responses")).to_be_visible()
    rows = page.locator("tbody tr")
    await expect(rows.first).to_contain_text(second["id"])  # newest first
    await expect(page.get_by_role("link", name=first["id"])).to_be_visible()
    await snapshot(page, "responses-log")

    await page.get_by_role("link", name=second["id"]).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(second["id"])
    call = page.locator("article.item-function_call")
    await expect(call).to_contain_text("get_weather")
    await expect(call).to_contain_text('"city": "Paris"')
    await expect(page.locator("article.item-message").first).to_contain_text("And the weather there?")
    chain = page.get_by_role("region", name="Chain")
    await expect(chain.get_by_role("link", name=first["id"])).to_be_visible()
    await expect(page.get_by_role("main")).not_to_contain_text("null")  # nothing absent is shown
    await snapshot(page, "response-detail")

    await page.goto(ui)  # the log's filters: a model no response has, then the one they have
    await page.get_by_label("Model").fill("no-such-model")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_text("No stored responses match.")).to_be_visible()
    await page.get_by_label("Model").fill(MODEL)
    await page.get_by_label("Status").select_option("completed")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_role("link", name=second["id"])).to_be_visible()
    assert "status=completed" in page.url
    await snapshot(page, "responses-filtered")

    await page.get_by_role("link", name=second["id"]).click()
    chain = page.get_by_role("region", name="Chain")
    await chain.get_by_role("link", name=first["id"]).click()  # walk the chain back
    await expect(page.get_by_role("heading", level=1)).to_have_text(first["id"])
    await expect(page.locator("article.item-message").last).to_contain_text("Paris it is.")
    assert await page.title() == f"{first['id']} · Parley"


async def test_an_unknown_response_is_an_alert_not_a_blank_page(page: Page, parley_url: str) -> None:
    await page.goto(parley_url.removesuffix("/v1") + "/ui#/responses/resp_nope")
    await expect(page.get_by_role("alert")).to_contain_text("resp_nope")


ALICE, BOB = "sk-alice-ui-test", "sk-bob-ui-test"


@pytest.fixture
def keyed_url(upstream: ScriptedUpstream, tmp_path: Path) -> Iterator[str]:
    """A server of its own that needs a key: Alice's and Bob's."""
    keys = (ConfiguredKey(ALICE, "alice"), ConfiguredKey(BOB, "bob"))
    with own_parley(upstream, tmp_path, "parley-keys", api_keys=keys) as url:
        yield url


async def use_key(page: Page, key: str) -> None:
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Use").click()
    await expect(page.locator("#key-state")).to_have_text("key in use")


async def test_with_keys_the_page_asks_for_one_and_each_owner_sees_only_their_own(
    page: Page, keyed_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="For Alice."), Reply(text="For Bob."))
    alices = await post_response(keyed_url, ALICE, input="Alice asks.")
    bobs = await post_response(keyed_url, BOB, input="Bob asks.")
    await page.goto(keyed_url.removesuffix("/v1") + "/ui")  # the page itself needs no key
    await expect(page.get_by_role("alert")).to_contain_text("Enter an API key above")

    await use_key(page, ALICE)
    await expect(page.get_by_role("link", name=alices["id"])).to_be_visible()
    await expect(page.get_by_role("link", name=bobs["id"])).to_have_count(0)
    await page.goto(keyed_url.removesuffix("/v1") + f"/ui#/responses/{bobs['id']}")
    await expect(page.get_by_role("alert")).to_contain_text(bobs["id"])  # not found, for Alice
    await snapshot(page, "other-owners-response")

    await use_key(page, BOB)  # kept for the browser session, replaced here
    await page.goto(keyed_url.removesuffix("/v1") + "/ui")
    await expect(page.get_by_role("link", name=bobs["id"])).to_be_visible()
    await expect(page.get_by_role("link", name=alices["id"])).to_have_count(0)


STORED = 10_000


@pytest.fixture
def crowded_url(upstream: ScriptedUpstream, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A server over 10,000 stored responses (written through the store, as 10,000 turns would);
    the ids, oldest first."""
    ids = asyncio.run(_store_responses(tmp_path, STORED))
    with own_parley(upstream, tmp_path, "parley-crowded") as url:
        yield url, ids


def _message(item_id: str, role: str, kind: str, text: str) -> dict[str, Any]:
    part: dict[str, Any] = {"type": kind, "text": text}
    if kind == "output_text":
        part["annotations"] = []
    return {"type": "message", "id": item_id, "role": role, "status": "completed", "content": [part]}


async def _store_responses(data_dir: Path, count: int) -> list[str]:
    stores = open_stores(None, data_dir)
    ids = [f"resp_{n:048x}" for n in range(count)]
    for n, response_id in enumerate(ids):
        user = _message(f"msg_{n:048x}", "user", "input_text", f"Question {n}")
        answer = _message(f"msg_{n + count:048x}", "assistant", "output_text", f"Answer {n}")
        created = 1_800_000_000 + n
        response = {"id": response_id, "object": "response", "created_at": created,
                    "completed_at": created + 1, "status": "completed", "model": MODEL,
                    "output": [answer], "usage": None, "previous_response_id": None}  # fmt: skip
        await stores.responses.save(response, [user], "anonymous")
    await stores.aclose()
    return ids


async def test_with_10000_stored_responses_pages_load_from_one_page_of_them(
    page: Page, crowded_url: tuple[str, list[str]]
) -> None:
    """The log reads one page (the API's cursors), so its load does not grow with the store. Every
    page's load time, measured in this browser, is written to ``test-artifacts/ui/load-times.json``."""
    base, ids = crowded_url
    ui = base.removesuffix("/v1") + "/ui"
    times = {}
    for name, url, ready in (
        ("log", ui, page.locator("tbody tr").nth(19)),
        ("older", f"{ui}#/responses?after={ids[-20]}", page.get_by_role("link", name=ids[-21])),
        ("playground", f"{ui}#/playground", page.get_by_label("Model")),
        ("vector_stores", f"{ui}#/vector_stores", page.get_by_text("No vector stores yet")),
        ("conversations", f"{ui}#/conversations", page.get_by_text("No conversations yet")),
        ("prompts", f"{ui}#/prompts", page.get_by_text("No prompts yet")),
        ("detail", f"{ui}#/responses/{ids[5000]}", page.get_by_role("heading", name="Output (1)")),
    ):
        await page.goto("about:blank")
        await page.goto(url)
        await expect(ready).to_be_visible()
        times[name] = await page.evaluate("performance.now()")  # since this navigation began
    await expect(page.locator("article.item-message").last).to_contain_text("Answer 5000")
    await page.goto(ui)
    await expect(page.locator("tbody tr")).to_have_count(20)
    await expect(page.locator("tbody tr").first).to_contain_text(ids[-1])  # newest first
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load-times.json").write_text(json.dumps({"stored": STORED, "ms": times}) + "\n")
    print(f"UI load times with {STORED} stored responses (ms): {times}")


async def _owned_objects(base: str, key: str, name: str) -> dict[str, str]:
    """A vector store, a conversation and a prompt of the key's owner; their ids by page."""
    async with httpx2.AsyncClient(
        base_url=base, timeout=20, headers={"authorization": f"Bearer {key}"}
    ) as client:
        store = (await client.post("/vector_stores", json={"name": f"{name}'s store"})).json()
        conversation = (await client.post("/conversations", json={"metadata": {"of": name}})).json()
        prompt = (await client.post("/prompts", json={"prompt": f"Hello from {name}."})).json()
    return {"vector_stores": store["id"], "conversations": conversation["id"], "prompts": prompt["prompt_id"]}


async def test_with_two_keys_no_page_shows_one_owner_anything_of_the_other(
    page: Page, keyed_url: str
) -> None:
    alices = await _owned_objects(keyed_url, ALICE, "Alice")
    bobs = await _owned_objects(keyed_url, BOB, "Bob")
    ui = keyed_url.removesuffix("/v1") + "/ui"
    await page.goto(ui)
    for key, own, other in ((ALICE, alices, bobs), (BOB, bobs, alices)):
        await use_key(page, key)
        for section, own_id in own.items():
            await page.goto(f"{ui}#/{section}")
            await expect(page.get_by_role("link", name=own_id)).to_be_visible()
            await expect(page.get_by_role("link", name=other[section])).to_have_count(0)
            await page.goto(f"{ui}#/{section}/{other[section]}")  # named outright, it is not found
            await expect(page.get_by_role("alert")).to_contain_text(other[section])

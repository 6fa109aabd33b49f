"""The UI's Conversations and Prompts pages in a real browser against a real server: conversations
listed newest first and one read with its items in order (a response's answer among them); a prompt
created, edited into a new version, its default version changed, and an API refusal shown."""

from __future__ import annotations

import re
from typing import Any

import httpx2
from playwright.async_api import Page, expect

from parley.testing.fake_upstream import Reply
from tests.e2e.conftest import ScriptedUpstream, post_response
from tests.support.browser import snapshot

Json = dict[str, Any]


def message(role: str, text: str) -> Json:
    return {"type": "message", "role": role, "content": text}


async def create_conversation(base: str, **body: Any) -> Json:
    async with httpx2.AsyncClient(base_url=base, timeout=20) as client:
        made = await client.post("/conversations", json=body)
    assert made.status_code == 200, made.text
    found: Json = made.json()
    return found


async def test_conversations_are_listed_newest_first_and_read_in_order(
    page: Page, parley_url: str, upstream: ScriptedUpstream
) -> None:
    older = await create_conversation(parley_url, metadata={"topic": "older"})
    newer = await create_conversation(
        parley_url,
        metadata={"topic": "moons", "by": "e2e"},
        items=[message("user", "Tell me about Saturn."), message("assistant", "It has rings.")],
    )
    upstream.script(Reply(text="Titan is the largest moon of Saturn."))
    await post_response(parley_url, conversation=newer["id"], input="And its largest moon?")
    ui = parley_url.removesuffix("/v1") + "/ui"

    await page.goto(f"{ui}#/conversations")
    await expect(page.get_by_role("heading", name="Conversations", level=1)).to_be_visible()
    rows = page.locator("table.conversations tbody tr")
    await expect(rows.first).to_contain_text(newer["id"])  # newest first
    await expect(rows.first).to_contain_text("topic: moons")
    await expect(rows.first).to_contain_text("by: e2e")
    await expect(rows.nth(1)).to_contain_text(older["id"])
    await snapshot(page, "conversations-list")

    await page.get_by_role("link", name=newer["id"]).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(newer["id"])
    items = page.get_by_role("region", name="Items (4)").locator("article.item-message")
    await expect(items).to_have_count(4)
    expected = [
        ("user", "Tell me about Saturn."),
        ("assistant", "It has rings."),
        ("user", "And its largest moon?"),
        ("assistant", "Titan is the largest moon of Saturn."),
    ]
    for index, (role, text) in enumerate(expected):
        await expect(items.nth(index)).to_contain_text(f"{role} message")
        await expect(items.nth(index)).to_contain_text(text)
    await expect(page.locator("dl.facts")).to_contain_text("topic: moons")
    await expect(page.get_by_role("button", name="Load more items")).to_be_hidden()
    assert await page.title() == f"{newer['id']} · Parley"
    await snapshot(page, "conversations-detail")


async def test_a_conversation_of_many_items_loads_more_on_asking(page: Page, parley_url: str) -> None:
    conversation = await create_conversation(parley_url)
    async with httpx2.AsyncClient(base_url=parley_url, timeout=20) as client:
        for batch in range(6):  # 120 items, 20 a call (OpenAI's limit)
            notes = [message("user", f"note {batch * 20 + n}") for n in range(20)]
            added = await client.post(f"/conversations/{conversation['id']}/items", json={"items": notes})
            assert added.status_code == 200, added.text
    await page.goto(parley_url.removesuffix("/v1") + f"/ui#/conversations/{conversation['id']}")
    items = page.locator("article.item-message")
    await expect(items).to_have_count(100)
    await expect(page.locator("main").get_by_role("status")).to_contain_text("first 100 items")
    await page.get_by_role("button", name="Load more items").click()
    await expect(items).to_have_count(120)
    await expect(items.last).to_contain_text("note 119")
    await expect(page.get_by_role("heading", name="Items (120)")).to_be_visible()
    await expect(page.get_by_role("button", name="Load more items")).to_be_hidden()


async def test_a_prompt_is_created_edited_into_a_version_and_its_default_changed(
    page: Page, parley_url: str
) -> None:
    ui = parley_url.removesuffix("/v1") + "/ui"
    await page.goto(f"{ui}#/prompts")
    await expect(page.get_by_role("heading", name="Prompts", level=1)).to_be_visible()
    await page.get_by_label("Template", exact=True).fill("You are {{role}}. Answer briefly.")
    await page.get_by_label("Variables", exact=True).fill("role")
    await page.get_by_label("Model", exact=True).fill("fake-model")
    await snapshot(page, "prompts-new")
    await page.get_by_role("button", name="Create prompt").click()
    heading = page.get_by_role("heading", level=1)
    await expect(heading).to_have_text(re.compile(r"^pmpt_"))
    prompt_id = await heading.text_content()
    assert prompt_id

    await page.goto(f"{ui}#/prompts")
    row = page.locator("table.prompts tbody tr").filter(has_text=prompt_id)
    await expect(row).to_contain_text("fake-model")
    await expect(row.locator("td").nth(1)).to_have_text("1")
    await snapshot(page, "prompts-list")
    await row.get_by_role("link", name=prompt_id).click()

    await expect(page.locator("pre.prompt-template")).to_have_text("You are {{role}}. Answer briefly.")
    template = page.get_by_label("Template", exact=True)
    await expect(template).to_have_value("You are {{role}}. Answer briefly.")  # the latest version
    await expect(page.get_by_label("Variables", exact=True)).to_have_value("role")
    await template.fill("You are {{role}}. Answer at length.")
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(page.locator("main").get_by_role("status")).to_have_text(
        "Saved version 2; it is now the default."
    )
    versions = page.locator("table.prompt-versions tbody tr")
    await expect(versions).to_have_count(2)
    await expect(versions.nth(0).locator("th")).to_have_text("1")
    await expect(versions.nth(1).locator("th")).to_have_text("2")
    await expect(versions.nth(1).locator("td").first).to_have_text("default")
    await expect(versions.nth(1)).to_contain_text("You are {{role}}. Answer at length.")
    await expect(versions.nth(0)).to_contain_text("You are {{role}}. Answer briefly.")
    await expect(page.locator("pre.prompt-template")).to_have_text("You are {{role}}. Answer at length.")
    await snapshot(page, "prompts-versions")

    await versions.nth(0).get_by_role("button", name="Make version 1 the default").click()
    await expect(page.locator("main").get_by_role("status")).to_have_text("Version 1 is now the default.")
    await expect(versions.nth(0).locator("td").first).to_have_text("default")
    await expect(versions.nth(1).get_by_role("button", name="Make version 2 the default")).to_be_visible()
    await expect(page.locator("pre.prompt-template")).to_have_text("You are {{role}}. Answer briefly.")
    async with httpx2.AsyncClient(base_url=parley_url, timeout=20) as client:
        stored = (await client.get(f"/prompts/{prompt_id}")).json()
    assert (stored["version"], stored["is_default"]) == (1, True)

    await page.get_by_label("Template", exact=True).fill("Hello {{name}}.")  # "name" is not declared
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(page.get_by_role("alert")).to_contain_text("undeclared variables")
    await expect(versions).to_have_count(2)  # nothing stored
    await snapshot(page, "prompts-refused")


async def prompt_ids(base: str) -> list[str]:
    async with httpx2.AsyncClient(base_url=base, timeout=20) as client:
        listed = await client.get("/prompts")
    return [prompt["prompt_id"] for prompt in listed.json()["data"]]


async def test_a_prompt_refused_at_creation_is_an_alert_and_nothing_is_stored(
    page: Page, parley_url: str
) -> None:
    before = await prompt_ids(parley_url)
    await page.goto(parley_url.removesuffix("/v1") + "/ui#/prompts")
    await page.get_by_label("Template", exact=True).fill("Dear {{customer}},")
    await page.get_by_role("button", name="Create prompt").click()
    await expect(page.get_by_role("alert")).to_contain_text("undeclared variables: ['customer']")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Prompts")  # still on the form
    await expect(page.get_by_label("Template", exact=True)).to_have_value("Dear {{customer}},")
    assert await prompt_ids(parley_url) == before

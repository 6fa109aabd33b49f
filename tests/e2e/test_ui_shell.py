"""The UI's shell in a real browser: every page reached from the navigation by keyboard, a running
background response watched live, and an admin key acting for an owner (``Parley-Owner``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from playwright.async_api import Page, expect

from parley.config import ConfiguredKey
from parley.testing.fake_upstream import Reply
from tests.e2e.conftest import MODEL, ScriptedUpstream, own_parley, post_response
from tests.support.browser import snapshot

SECTIONS = {
    "Responses": "Responses",
    "Playground": "Playground",
    "Vector stores": "Vector stores",
    "Conversations": "Conversations",
    "Prompts": "Prompts",
}
"""Each navigation link and the heading its page opens with."""
WORDS = " ".join(f"w{n}" for n in range(60))


def ui_of(base: str) -> str:
    return base.removesuffix("/v1") + "/ui"


async def test_every_page_opens_from_the_navigation_by_keyboard(page: Page, parley_url: str) -> None:
    await page.goto(ui_of(parley_url))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Responses")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Tab")  # the first section's link comes next
    await expect(page.get_by_role("link", name="Responses", exact=True)).to_be_focused()
    for link, heading in SECTIONS.items():
        navigation = page.get_by_role("navigation", name="Sections")
        await navigation.get_by_role("link", name=link, exact=True).focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        current = navigation.get_by_role("link", name=link, exact=True)
        await expect(current).to_have_attribute("aria-current", "page")
        await expect(page.get_by_role("alert")).to_have_count(0)
        assert await page.title() == f"{heading} · Parley"
        await snapshot(page, f"page-{link.lower().replace(' ', '-')}")


async def test_a_running_background_response_is_watched_live_then_shown_as_stored(
    page: Page, async_client: openai.AsyncOpenAI, parley_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text=WORDS, token_delay=0.08))  # about five seconds of words
    stream: Any = await async_client.responses.create(
        model=MODEL, input="Count slowly.", background=True, stream=True
    )
    async with stream:  # the creator leaves after the first event; the response runs on
        response_id = (await anext(stream)).response.id

    await page.goto(f"{ui_of(parley_url)}#/responses/{response_id}")
    live = page.get_by_role("region", name="Live")
    answer = live.get_by_role("log", name="Answer so far")
    await expect(answer).to_contain_text("w1 w2")
    partial = await answer.text_content()
    assert partial is not None
    assert "w59" not in partial  # seen while it is still being written
    await snapshot(page, "background-live")

    await expect(live).to_have_count(0, timeout=15_000)  # done: the page shows the stored response
    await expect(page.locator("dl.facts")).to_contain_text("completed")
    await expect(page.locator("article.item-message").last).to_contain_text(WORDS)


async def test_a_background_response_without_a_stream_is_polled_until_it_is_done(
    page: Page, parley_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="Slowly, then done.", token_delay=0.6))  # about two seconds
    async with httpx2.AsyncClient(base_url=parley_url, timeout=20) as client:
        created = await client.post("/responses", json={"model": MODEL, "input": "Hi.", "background": True})
    response_id = created.json()["id"]

    await page.goto(f"{ui_of(parley_url)}#/responses/{response_id}")
    await expect(page.get_by_role("region", name="Live")).to_be_visible()
    await expect(page.get_by_role("region", name="Live")).to_have_count(0, timeout=15_000)
    await expect(page.locator("article.item-message").last).to_contain_text("Slowly, then done.")


ALICE, ADMIN = "sk-alice-ui-admin-test", "sk-ops-ui-admin-test"


@pytest.fixture
def admin_url(upstream: ScriptedUpstream, tmp_path: Path) -> Iterator[str]:
    """A server of its own with Alice's key and an admin key (owner ``ops``)."""
    keys = (ConfiguredKey(ALICE, "alice"), ConfiguredKey(ADMIN, "ops", admin=True))
    with own_parley(upstream, tmp_path, "parley-admin", api_keys=keys) as url:
        yield url


async def test_an_admin_key_sees_any_owners_data_by_naming_the_owner(
    page: Page, admin_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="For Alice."))
    alices = await post_response(admin_url, ALICE, input="Alice asks.")
    await page.goto(ui_of(admin_url))
    await page.get_by_label("API key").fill(ADMIN)
    await page.get_by_role("button", name="Use").click()
    await expect(page.locator("#key-state")).to_have_text("key in use")
    await expect(page.get_by_text("No stored responses yet.")).to_be_visible()  # ops owns none

    await page.get_by_label("Owner").fill("alice")
    await page.get_by_role("button", name="Use").click()  # the key is kept; the owner is added
    await expect(page.locator("#key-state")).to_have_text("key in use, as alice")
    await page.get_by_role("link", name=alices["id"]).click()
    await expect(page.locator("article.item-message").last).to_contain_text("For Alice.")
    await snapshot(page, "admin-as-alice")

    await page.get_by_label("API key").fill(ALICE)  # Alice's own key may not act for another owner
    await page.get_by_label("Owner").fill("ops")
    await page.get_by_role("button", name="Use").click()
    await expect(page.get_by_role("alert")).to_contain_text("admin")
    await page.get_by_role("button", name="Forget").click()
    await expect(page.locator("#key-state")).to_have_text("no key")
    await expect(page.get_by_label("Owner")).to_have_value("")


async def test_the_colours_follow_the_systems_dark_mode(page: Page, parley_url: str) -> None:
    background = "getComputedStyle(document.body).backgroundColor"
    await page.emulate_media(color_scheme="light")
    await page.goto(ui_of(parley_url))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Responses")
    assert await page.evaluate(background) == "rgb(255, 255, 255)"
    await page.emulate_media(color_scheme="dark")
    assert await page.evaluate(background) == "rgb(21, 23, 26)"
    await snapshot(page, "dark-mode")

"""The UI's vector-store and file pages in a real browser against a real server: a store made,
filled through the upload form (progress, ingestion state, errors) and searched with filters; a
file that fails ingestion shows why; a response's file citation links to the file's own page."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.async_api import FilePayload, Locator, Page, expect

from parley.testing.fake_upstream import Reply, ToolCall
from tests.e2e.conftest import ScriptedUpstream, own_parley, post_response
from tests.support.browser import snapshot

NOTES = b"The lighthouse keeper logs the tide at dawn.\nStorms come from the west in winter.\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def ui_of(base: str) -> str:
    return base.removesuffix("/v1") + "/ui"


def a_file(name: str, data: bytes, mime: str = "text/plain") -> FilePayload:
    return {"name": name, "mimeType": mime, "buffer": data}


async def upload(page: Page, *files: FilePayload, attributes: str = "") -> None:
    await page.get_by_label("Files to upload").set_input_files(list(files))
    await page.get_by_label("Attributes (JSON object, optional)").fill(attributes)
    await page.get_by_role("button", name="Upload", exact=True).click()


def file_row(page: Page, filename: str) -> Locator:
    return page.locator("table.store-files tbody tr").filter(has_text=filename)


async def new_store(page: Page, base: str, name: str) -> str:
    """A store made with the list page's form; its id, from the page the form opens."""
    await page.goto(ui_of(base) + "#/vector_stores")
    await expect(page.get_by_role("heading", name="Vector stores", level=1)).to_be_visible()
    await page.get_by_label("Name").fill(name)
    await page.get_by_role("button", name="Create vector store").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    found = re.search(r"#/vector_stores/(vs_[0-9A-Za-z_]+)$", page.url)
    assert found, page.url
    return found.group(1)


async def test_a_store_is_made_filled_through_the_upload_form_and_searched(
    page: Page, parley_url: str
) -> None:
    store_id = await new_store(page, parley_url, "Field notes")
    await expect(page.get_by_text("No files in this store yet.")).to_be_visible()

    await upload(page, a_file("notes.txt", NOTES), attributes="[1, 2]")  # not an object: nothing is sent
    await expect(page.get_by_role("alert")).to_contain_text("must be a JSON object")
    await expect(page.locator("ul.uploads li")).to_have_count(0)
    await upload(page, a_file("notes.txt", NOTES), attributes='{"region": "eu", "year": 2024}')
    row = file_row(page, "notes.txt")
    await expect(row.locator("td").nth(2)).to_have_text("completed", timeout=20_000)
    await expect(row).to_contain_text('region: "eu", year: 2024')
    bar = page.get_by_role("progressbar", name="Upload of notes.txt")
    maximum = await bar.get_attribute("max")
    assert maximum is not None
    assert int(maximum) >= len(NOTES)
    await expect(bar).to_have_attribute("value", maximum)  # the bar reached its end
    await expect(page.locator("ul.uploads li").filter(has_text="notes.txt")).to_contain_text("completed")
    await expect(page.locator("dl.facts")).to_contain_text("1 completed of 1")  # read again after it settled
    await expect(page.get_by_role("alert")).to_have_count(0)
    await snapshot(page, "vector-store-uploaded")

    search = page.get_by_role("search", name="Search this store")
    filters = search.get_by_label("Filter (JSON, optional)")
    await search.get_by_label("Query").fill("when do storms come")
    await search.get_by_role("button", name="Search").click()
    chunk = page.locator("ol.chunks li").first
    await expect(chunk).to_contain_text("Storms come from the west")
    await expect(chunk).to_contain_text(re.compile(r"score \d\.\d{3}"))
    link = chunk.get_by_role("link", name="notes.txt")
    await expect(link).to_have_attribute("href", re.compile("#/files/file-"))
    await snapshot(page, "vector-store-search")

    await filters.fill('{"type": "eq", "key": "region", "value": "us"}')
    await search.get_by_role("button", name="Search").click()
    await expect(page.get_by_text("No results.")).to_be_visible()
    await filters.fill('{"type": "eq", "key": "region"')
    await search.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("alert")).to_contain_text("The filter is not valid JSON")
    await filters.fill('{"type": "near", "key": "region", "value": "eu"}')
    await search.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("alert")).to_contain_text("filters")  # the API's 400, as it said it
    await filters.fill('{"type": "gte", "key": "year", "value": 2024}')
    await search.get_by_role("button", name="Search").click()
    await expect(page.locator("ol.chunks li").first).to_contain_text("lighthouse keeper")

    await page.get_by_role("link", name="All vector stores").click()
    listed = page.locator("tbody tr").filter(has=page.get_by_role("link", name=store_id))
    await expect(listed).to_contain_text("Field notes")
    await expect(listed).to_contain_text("1 completed of 1")
    await snapshot(page, "vector-store-list")

    await page.goto(ui_of(parley_url) + f"#/vector_stores/{store_id}")
    await file_row(page, "notes.txt").get_by_role("button", name="Remove notes.txt").click()
    await expect(page.get_by_text(re.compile(r"Removed file-\w+ from the store\."))).to_be_visible()
    await expect(file_row(page, "notes.txt")).to_have_count(0)


async def test_files_that_fail_ingestion_show_their_last_error_and_binary_content_is_not_shown(
    page: Page, parley_url: str
) -> None:
    await new_store(page, parley_url, "Odd files")
    await upload(page, a_file("picture.png", PNG, "image/png"), a_file("empty.txt", b""))
    picture, empty = file_row(page, "picture.png"), file_row(page, "empty.txt")
    await expect(picture.locator("td").nth(2)).to_have_text("failed", timeout=20_000)
    await expect(picture.locator("td").nth(3)).to_have_text(
        "unsupported_file: Files of this type are not supported: 'picture.png'"
    )
    await expect(empty.locator("td").nth(2)).to_have_text("failed", timeout=20_000)
    await expect(empty.locator("td").nth(3)).to_have_text("invalid_file: The file is empty")
    uploads = page.locator("ul.uploads li")
    await expect(uploads.filter(has_text="picture.png")).to_contain_text("failed: unsupported_file")
    await expect(page.locator("dl.facts")).to_contain_text("0 completed, 2 failed of 2")
    await snapshot(page, "vector-store-failed-files")

    await picture.get_by_role("link").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("picture.png")
    await expect(page.get_by_text(f"Binary content, {len(PNG)} bytes: not shown.")).to_be_visible()
    await expect(page.locator("dl.facts")).to_contain_text("assistants")


@pytest.fixture
def small_uploads_url(upstream: ScriptedUpstream, tmp_path: Path) -> Iterator[str]:
    """A server of its own that takes files of at most 1 KB."""
    with own_parley(upstream, tmp_path, "parley-small-uploads", max_file_bytes=1024) as url:
        yield url


async def test_an_upload_the_server_refuses_shows_its_message_beside_that_file(
    page: Page, small_uploads_url: str
) -> None:
    await new_store(page, small_uploads_url, "Small files only")
    await upload(page, a_file("fits.txt", NOTES), a_file("too-big.txt", b"x" * 2048))
    refused = page.locator("ul.uploads li").filter(has_text="too-big.txt")
    await expect(refused).to_contain_text("failed: ", timeout=20_000)
    await expect(refused).to_contain_text("1024")  # the API's own message names the limit
    await expect(refused.locator(".upload-state")).to_have_class(re.compile("error"))
    await expect(file_row(page, "fits.txt").locator("td").nth(2)).to_have_text("completed", timeout=20_000)
    await expect(file_row(page, "too-big.txt")).to_have_count(0)
    await snapshot(page, "vector-store-upload-refused")


async def api_upload(client: httpx2.AsyncClient, filename: str, data: bytes) -> dict[str, Any]:
    answer = await client.post("/files", files={"file": (filename, data)}, data={"purpose": "assistants"})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def filled_store(base: str, filename: str, text: bytes) -> tuple[str, str]:
    """A store holding one ingested file, made through the API; the store's and the file's ids."""
    async with httpx2.AsyncClient(base_url=base, timeout=20) as client:
        store = (await client.post("/vector_stores", json={"name": "Citations"})).json()
        file = await api_upload(client, filename, text)
        attached = await client.post(f"/vector_stores/{store['id']}/files", json={"file_id": file["id"]})
        assert attached.status_code == 200, attached.text
        for _ in range(400):
            state = (await client.get(f"/vector_stores/{store['id']}/files/{file['id']}")).json()
            if state["status"] != "in_progress":
                assert state["status"] == "completed", state
                return store["id"], file["id"]
            await asyncio.sleep(0.05)
    raise AssertionError("ingestion did not finish")


async def test_a_file_citation_links_to_the_file_page_with_its_content(
    page: Page, parley_url: str, upstream: ScriptedUpstream
) -> None:
    store_id, file_id = await filled_store(parley_url, "tides.txt", NOTES)
    upstream.script(
        Reply(tool_calls=[ToolCall("knowledge_search", json.dumps({"query": "tide"}))]),
        Reply(text=f"The keeper logs the tide at dawn <|{file_id}|>."),
    )
    response = await post_response(
        parley_url,
        input="When is the tide logged?",
        tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
    )
    assert response["output"][0]["type"] == "file_search_call"

    await page.goto(ui_of(parley_url) + f"#/responses/{response['id']}")
    await expect(page.locator("article.item-file_search_call")).to_contain_text("Queries: tide")
    citation = page.locator("article.item-message").last.get_by_role("link", name="tides.txt")
    await expect(citation).to_have_attribute("href", f"#/files/{file_id}")
    await snapshot(page, "vector-store-citation")

    await citation.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("tides.txt")
    await expect(page.locator("dl.facts")).to_contain_text(file_id)
    await expect(page.get_by_label("Content of tides.txt")).to_have_text(NOTES.decode())
    await snapshot(page, "vector-store-file")


async def test_the_file_page_shows_the_start_of_a_large_text_file(page: Page, parley_url: str) -> None:
    line = "A line of the ship's log, repeated.\n"
    text = line * 3000  # about 108 KB
    async with httpx2.AsyncClient(base_url=parley_url, timeout=20) as client:
        file = await api_upload(client, "log.txt", text.encode())
    await page.goto(ui_of(parley_url) + f"#/files/{file['id']}")
    await expect(page.get_by_text(f"Showing the first 65536 of {len(text)} bytes.")).to_be_visible()
    shown = await page.get_by_label("Content of log.txt").text_content()
    assert shown == text[:65536]


async def test_the_store_list_pages_with_the_api_cursors(page: Page, parley_url: str) -> None:
    async with httpx2.AsyncClient(base_url=parley_url, timeout=20) as client:
        made = [await client.post("/vector_stores", json={"name": f"Paged {n}"}) for n in range(21)]
    ids = [answer.json()["id"] for answer in made]
    await page.goto(ui_of(parley_url) + "#/vector_stores")
    await expect(page.locator("tbody tr")).to_have_count(20)
    await expect(page.locator("tbody tr").first).to_contain_text(ids[-1])  # newest first
    await expect(page.get_by_role("link", name=ids[0])).to_have_count(0)
    await page.get_by_role("link", name="Older").click()
    await expect(page.get_by_role("link", name=ids[0])).to_be_visible()
    await expect(page.get_by_role("table")).to_contain_text("Older vector stores")
    await page.get_by_role("link", name="Newest").click()
    await expect(page.get_by_role("link", name=ids[-1])).to_be_visible()

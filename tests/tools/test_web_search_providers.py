"""The search provider clients against a local search server: what each sends, what it reads back,
and every way a provider can fail turned into ``ToolFailed``."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from parley.app import build_web_search
from parley.errors import ToolFailed
from parley.providers.search import SearchHit, SearchQuery, WebSearchBackends, search_provider
from tests.conftest import make_settings
from tests.support.search_stub import SEARCH_URL, SearchStub

PAGES = {
    "saturn rings": [
        {"url": "https://science.nasa.gov/saturn/", "title": "<strong>Saturn</strong>", "content": "Rings."},
        {
            "url": "https://en.wikipedia.org/wiki/Saturn",
            "title": "Saturn - Wikipedia",
            "content": "A planet.",
        },
        {"title": "no url", "content": "skipped"},
    ]
}


async def test_searxng_sends_the_query_as_json_format_and_reads_its_results() -> None:
    stub = SearchStub(PAGES)
    provider = search_provider("searxng", stub.transport(), url=SEARCH_URL + "/")
    hits = await provider.search(SearchQuery("saturn rings"))
    await provider.aclose()
    assert hits == [
        SearchHit("https://science.nasa.gov/saturn/", "Saturn", "Rings."),
        SearchHit("https://en.wikipedia.org/wiki/Saturn", "Saturn - Wikipedia", "A planet."),
    ]
    (request,) = stub.requests
    assert request.url.path == "/search"
    assert dict(request.query_params) == {"q": "saturn rings", "format": "json"}


async def test_tavily_sends_a_bearer_key_the_domains_and_the_depth() -> None:
    stub = SearchStub(PAGES)
    provider = search_provider("tavily", stub.transport(), url=SEARCH_URL, api_key="tvly-secret")
    query = SearchQuery("saturn rings", max_results=3, allowed_domains=("nasa.gov",), deep=True)
    hits = await provider.search(query)
    assert hits[0].url == "https://science.nasa.gov/saturn/"
    assert stub.requests[0].headers["authorization"] == "Bearer tvly-secret"
    assert stub.bodies == [
        {
            "query": "saturn rings",
            "max_results": 3,
            "search_depth": "advanced",
            "include_domains": ["nasa.gov"],
        }
    ]
    await provider.search(SearchQuery("saturn rings"))
    assert stub.bodies[1] == {"query": "saturn rings", "max_results": 5, "search_depth": "basic"}


async def test_brave_sends_its_token_count_and_country_and_strips_markup() -> None:
    stub = SearchStub(PAGES)
    provider = search_provider("brave", stub.transport(), url=SEARCH_URL, api_key="brave-secret")
    hits = await provider.search(SearchQuery("saturn rings", max_results=50, country="GB"))
    assert hits[0] == SearchHit("https://science.nasa.gov/saturn/", "Saturn", "Rings.")
    (request,) = stub.requests
    assert request.headers["x-subscription-token"] == "brave-secret"
    assert dict(request.query_params) == {"q": "saturn rings", "count": "20", "country": "gb"}
    await provider.search(SearchQuery("saturn rings"))
    assert "country" not in stub.requests[1].query_params


@pytest.mark.parametrize("name", ["searxng", "tavily", "brave"])
async def test_a_provider_error_status_is_a_tool_failure_naming_it(name: str) -> None:
    provider = search_provider(name, SearchStub(status=500).transport(), url=SEARCH_URL, api_key="k")  # type: ignore[arg-type]
    with pytest.raises(ToolFailed, match=r"answered HTTP 500: \{\"error\": \"boom\"\}"):
        await provider.search(SearchQuery("anything"))


async def test_an_answer_that_is_not_json_or_has_no_results_is_a_tool_failure() -> None:
    provider = search_provider("searxng", SearchStub(body=b"<html>", status=200).transport(), url=SEARCH_URL)
    with pytest.raises(ToolFailed, match="not JSON"):
        await provider.search(SearchQuery("q"))
    provider = search_provider("searxng", SearchStub(body=b'{"answers": []}').transport(), url=SEARCH_URL)
    with pytest.raises(ToolFailed, match="no result list"):
        await provider.search(SearchQuery("q"))


async def test_a_slow_provider_times_out_as_a_tool_failure() -> None:
    provider = search_provider("searxng", SearchStub(delay=1.0).transport(), url=SEARCH_URL, timeout=0.05)
    with pytest.raises(ToolFailed, match=r"did not answer within 0\.05 s"):
        await provider.search(SearchQuery("q"))


async def test_an_unreachable_provider_is_a_tool_failure() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    provider = search_provider("brave", httpx2.MockTransport(refuse), api_key="k")
    with pytest.raises(ToolFailed, match="Brave could not be reached: connection refused"):
        await provider.search(SearchQuery("q"))


async def test_backends_close_what_they_hold() -> None:
    await WebSearchBackends().aclose()
    stub = SearchStub(PAGES)
    backends = WebSearchBackends(search_provider("searxng", stub.transport(), url=SEARCH_URL), None)
    await backends.aclose()


@pytest.mark.parametrize(("name", "kind"), [("tavily", "TavilySearch"), ("brave", "BraveSearch")])
async def test_the_app_builds_the_configured_provider_live_and_from_recordings(
    tmp_path: Path, name: str, kind: str
) -> None:
    assert (
        build_web_search(make_settings(tmp_path), lambda config: SearchStub().transport())
        == WebSearchBackends()
    )
    settings = make_settings(
        tmp_path, web_search_provider=name, tavily_api_key="t", brave_api_key="b", recordings_dir=tmp_path
    )
    backends = build_web_search(settings, lambda config: SearchStub().transport())
    assert type(backends.live).__name__ == type(backends.recorded).__name__ == kind
    await backends.aclose()

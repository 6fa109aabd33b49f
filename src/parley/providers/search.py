"""Web search providers behind one small interface: a query in, ranked pages out.

``SearchProvider.search(SearchQuery)`` answers ``SearchHit``s (url, title, text)
or raises ``ToolFailed`` saying why: the provider's status, a timeout, an answer
that is not the JSON it promised. Each client takes its ``httpx2`` transport
through its constructor, so every call goes through the one outbound seam and
the recorder (``app.py`` builds them); credentials travel in headers, which
recordings never keep.

- **SearXNG** (self-hosted, keyless): ``GET {url}/search?q=...&format=json``.
- **Tavily**: ``POST https://api.tavily.com/search`` with a bearer key;
  ``allowed_domains`` go as ``include_domains``, ``high`` context as the
  ``advanced`` depth.
- **Brave**: ``GET https://api.search.brave.com/res/v1/web/search`` with
  ``X-Subscription-Token``; the location's country goes as ``country``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx2

from parley.errors import ToolFailed

ProviderName = Literal["searxng", "tavily", "brave"]
PROVIDER_NAMES: tuple[ProviderName, ...] = ("searxng", "tavily", "brave")
TAVILY_URL = "https://api.tavily.com"
BRAVE_URL = "https://api.search.brave.com"
_TAGS = re.compile(r"<[^>]{0,200}>")


@dataclass(frozen=True)
class SearchQuery:
    query: str
    max_results: int = 5
    allowed_domains: tuple[str, ...] = ()
    country: str | None = None
    """Two-letter country code of the user's approximate location."""
    deep: bool = False
    """Ask for more thorough (slower) results where the provider has such a mode."""


@dataclass(frozen=True)
class SearchHit:
    url: str
    title: str
    text: str


class SearchProvider(Protocol):
    name: str

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        """Pages for ``query``, best first; any failure raises ``ToolFailed``."""
        ...

    async def aclose(self) -> None: ...


class _Client:
    """What the three clients share: one client on the outbound transport, errors translated once."""

    name = "search"

    def __init__(
        self, base_url: str, transport: httpx2.AsyncBaseTransport, headers: Mapping[str, str], timeout: float
    ) -> None:
        self._client = httpx2.AsyncClient(base_url=base_url.rstrip("/"), transport=transport, headers=headers)
        self._timeout = timeout

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON; a status, a timeout, a network error or a body that is not JSON: ToolFailed."""
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.request(method, path, **kwargs)
                await response.aread()
        except TimeoutError:
            raise ToolFailed(f"{self.name} did not answer within {self._timeout:g} s") from None
        except httpx2.HTTPError as exc:
            raise ToolFailed(f"{self.name} could not be reached: {exc}") from None
        if response.status_code >= 400:
            raise ToolFailed(f"{self.name} answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            raise ToolFailed(f"{self.name} answered something that is not JSON") from None

    async def aclose(self) -> None:
        await self._client.aclose()


def _hits(results: Any, text_key: str) -> list[SearchHit]:
    """Well-formed entries of a provider's result list; anything else in it is skipped."""
    if not isinstance(results, list):
        raise ToolFailed("the search provider's answer has no result list")
    hits = []
    for entry in results:
        if isinstance(entry, dict) and isinstance(entry.get("url"), str) and entry["url"]:
            title = _TAGS.sub("", str(entry.get("title") or entry["url"]))
            hits.append(SearchHit(entry["url"], title, _TAGS.sub("", str(entry.get(text_key) or ""))))
    return hits


class SearxngSearch(_Client):
    name = "SearXNG"

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        data = await self._json("GET", "/search", params={"q": query.query, "format": "json"})
        return _hits(data.get("results") if isinstance(data, dict) else None, "content")


class TavilySearch(_Client):
    name = "Tavily"

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        body: dict[str, Any] = {"query": query.query, "max_results": query.max_results}
        body["search_depth"] = "advanced" if query.deep else "basic"
        if query.allowed_domains:
            body["include_domains"] = list(query.allowed_domains)
        data = await self._json("POST", "/search", json=body)
        return _hits(data.get("results") if isinstance(data, dict) else None, "content")


class BraveSearch(_Client):
    name = "Brave"

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        params = {"q": query.query, "count": str(min(query.max_results, 20))}
        if query.country:
            params["country"] = query.country.lower()
        data = await self._json("GET", "/res/v1/web/search", params=params)
        web = data.get("web") if isinstance(data, dict) else None
        return _hits(web.get("results") if isinstance(web, dict) else [], "description")


def search_provider(
    name: ProviderName,
    transport: httpx2.AsyncBaseTransport,
    *,
    url: str | None = None,
    api_key: str | None = None,
    timeout: float = 30.0,
) -> SearchProvider:
    """The client of provider ``name`` (config checks that SearXNG has a url and the others a key)."""
    build: dict[str, Callable[[], SearchProvider]] = {
        "searxng": lambda: SearxngSearch(url or "", transport, {}, timeout),
        "tavily": lambda: TavilySearch(
            url or TAVILY_URL, transport, {"authorization": f"Bearer {api_key}"}, timeout
        ),
        "brave": lambda: BraveSearch(
            url or BRAVE_URL,
            transport,
            {"x-subscription-token": api_key or "", "accept": "application/json"},
            timeout,
        ),
    }
    return build[name]()


@dataclass(frozen=True)
class WebSearchBackends:
    """The configured provider, live (through the recorder in its mode), and the same provider
    answering only from recordings, for ``external_web_access: false``. None: not available."""

    live: SearchProvider | None = None
    recorded: SearchProvider | None = None

    async def aclose(self) -> None:
        for provider in (self.live, self.recorded):
            if provider is not None:
                await provider.aclose()

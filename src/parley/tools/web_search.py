"""Hosted ``web_search`` (and ``web_search_preview``): the model searches the web through one function.

The model is offered ``web_search(query)``, defined as in seed 004. Parley asks the configured
provider (``providers/search.py``: SearXNG, Tavily or Brave, through the recorder) and hands the
model the results, numbered with title, URL and text, and the instruction to cite them as
markdown links; an empty result is an empty tool message, as in seed 004. Links in the answer to
URLs the searches returned become ``url_citation`` annotations (``tools/web_citations.py``).

Options: ``search_context_size`` sets how many results and how much of each the model reads
(``_SIZES``); ``filters.allowed_domains`` goes to the provider where it takes it and is enforced on
the results (a domain allows its subdomains); ``user_location.country`` goes to the provider where it
takes it; ``external_web_access: false`` answers from recorded results only (never a live call).

A provider that fails (a status, a timeout, an answer that is not JSON), or no provider configured,
is a tool error the model reads: the ``web_search_call`` ends ``failed`` with its ``error`` and the
response goes on. The item always keeps its ``results`` (what the model saw, for later turns); the
caller is sent them with ``include=["web_search_call.results"]``, and ``action.sources`` with
``include=["web_search_call.action.sources"]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import get_args
from urllib.parse import urlsplit

from pydantic import BaseModel

from parley.errors import RecordingMissing, ToolFailed
from parley.ids import new_id
from parley.providers.search import SearchHit, SearchProvider, SearchQuery, WebSearchBackends
from parley.tools.base import (
    ChatNames,
    ChatPiece,
    HostedCall,
    HostedToolType,
    Item,
    Json,
    ToolHost,
    ToolServices,
    query_argument,
    query_call_piece,
)
from parley.tools.deadline import within
from parley.tools.web_citations import LinkAnnotator
from parley.wire import events
from parley.wire.events import Event
from parley.wire.tools import WebSearchTool

NAME = "web_search"
CHAT_TOOL: Json = {
    "type": "function",
    "function": {
        "name": NAME,
        "description": "Search the web for information",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "The query to search for"}},
            "required": ["query"],
        },
    },
}
_SIZES = {"low": (3, 400), "medium": (5, 1200), "high": (10, 4000)}
"""search_context_size -> (results the model reads, characters of each result's text)."""
_CITE = (
    "Cite the sources you use as markdown links to their URL, right after the sentence they support,"
    " e.g. ([example.org](https://example.org/page)). Use only the URLs above."
)
NO_PROVIDER = "no web search provider is configured on this server (PARLEY_WEB_SEARCH_PROVIDER)"
NO_RECORDINGS = (
    "live web access is off (external_web_access: false) and this server keeps no recorded results"
)
NOT_RECORDED = (
    "live web access is off (external_web_access: false) and no recorded result exists for this query"
)


class WebSearch:
    def __init__(self, definition: WebSearchTool, backends: WebSearchBackends) -> None:
        size = definition.search_context_size or "medium"
        self._count, self._chars = _SIZES[size]
        allowed = definition.filters.allowed_domains if definition.filters else None
        location = definition.user_location
        self._query = SearchQuery(
            "",
            max_results=self._count,
            allowed_domains=tuple(filter(None, (_domain(d) for d in allowed or ()))),
            country=location.country if location else None,
            deep=size == "high",
        )
        self._offline = definition.external_web_access is False
        self._provider: SearchProvider | None = backends.recorded if self._offline else backends.live
        self._unavailable = NO_RECORDINGS if self._offline and backends.live else NO_PROVIDER

    def chat_tool(self) -> Json:
        return CHAT_TOOL

    async def run(self, call: HostedCall, host: ToolHost) -> AsyncIterator[Event]:
        action: Json = {"type": "search", "query": query_argument(call.arguments)}
        item: Item = {
            "id": new_id("ws"),
            "type": "web_search_call",
            "status": "in_progress",
            "action": action,
        }
        yield events.output_item_added(dict(item))
        yield _progress("in_progress", item)
        yield _progress("searching", item)
        try:
            hits = await within(host.deadline, self._search(action["query"]), ToolFailed, NAME)
        except ToolFailed as exc:
            yield events.output_item_done({**item, "status": "failed", "error": exc.message})
            return
        results = [_result(hit, self._chars) for hit in hits]
        sources = [{"type": "url", "url": result["url"]} for result in results]
        yield _progress("completed", item)
        done = {**item, "status": "completed", "action": {**action, "sources": sources}, "results": results}
        yield events.output_item_done(done)

    async def _search(self, query: str) -> list[SearchHit]:
        if self._provider is None:
            raise ToolFailed(self._unavailable)
        try:
            hits = await self._provider.search(SearchQuery(**{**self._query.__dict__, "query": query}))
        except RecordingMissing:
            if not self._offline:
                raise
            raise ToolFailed(NOT_RECORDED) from None
        domains = self._query.allowed_domains
        return [hit for hit in hits if not domains or _allowed(hit.url, domains)][: self._count]

    def annotator(self, context: Sequence[Item]) -> LinkAnnotator | None:
        """Citations of every page a web search in this context returned."""
        titles = {
            str(result["url"]): str(result.get("title") or result["url"])
            for item in context
            if item["type"] == "web_search_call"
            for result in item.get("results") or ()
            if isinstance(result, dict) and result.get("url")
        }
        return LinkAnnotator(titles) if titles else None


def _progress(stage: str, item: Item) -> Event:
    return {"type": f"response.web_search_call.{stage}", "item_id": item["id"]}


def _domain(value: str) -> str:
    """``https://Example.org/path`` -> ``example.org``."""
    value = value.strip().lower()
    return (urlsplit(value).hostname or "") if "://" in value else value.split("/", 1)[0]


def _allowed(url: str, domains: Sequence[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def _result(hit: SearchHit, chars: int) -> Json:
    text = hit.text if len(hit.text) <= chars else hit.text[:chars].rstrip() + "…"
    return {"url": hit.url, "title": hit.title, "text": text}


def tool_result_text(query: str, results: Sequence[Json], error: str | None = None) -> str:
    """What the model reads: the error, nothing for no results (seed 004), or the numbered results."""
    if error is not None:
        return f"{NAME} failed: {error}"
    if not results:
        return ""
    lines = [f'{NAME} found {len(results)} results for "{query}":\n']
    for number, result in enumerate(results, start=1):
        lines.append(
            f"[{number}] {result.get('title') or ''}\nURL: {result.get('url')}\n{result.get('text') or ''}\n"
        )
    lines.append(_CITE)
    return "\n".join(lines)


def read_call(item: Item, names: ChatNames) -> ChatPiece:
    action = item.get("action") or {}
    query = str(action.get("query") or "; ".join(action.get("queries") or ()))
    return query_call_piece(
        item, NAME, query, tool_result_text(query, item.get("results") or [], item.get("error"))
    )


async def build(definition: BaseModel, services: ToolServices, owner: str, param: str) -> WebSearch:
    assert isinstance(definition, WebSearchTool)
    return WebSearch(definition, services.web_search)


WEB_SEARCH_TYPES = get_args(WebSearchTool.model_fields["type"].annotation)
"""``web_search``, ``web_search_preview`` and their dated names."""
WEB_SEARCH = HostedToolType(
    build=build,
    readers={"web_search_call": read_call},
    included={"web_search_call.action.sources": ("web_search_call", "action.sources")},
    private={"web_search_call": ("results", "error")},
)

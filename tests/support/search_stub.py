"""A tiny web search server for tests: SearXNG's, Tavily's and Brave's JSON shapes over canned pages.

It is a real HTTP app (starlette) that Parley's search clients reach through an ``httpx2`` transport,
so the request Parley sends (path, query string, body, headers) is what the provider would get.
``SearchStub.routed(upstream)`` puts it in front of the fake chat upstream in the test harness:
requests to ``search.test`` reach the stub, everything else the upstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SEARCH_URL = "http://search.test"
Page = dict[str, str]


@dataclass
class SearchStub:
    pages: Mapping[str, Sequence[Page]] = field(default_factory=dict)
    """Query -> pages (``url``, ``title``, ``content``); an unknown query finds nothing."""
    status: int = 200
    body: bytes | None = None
    """A raw answer instead of the pages (e.g. something that is not JSON)."""
    delay: float = 0.0
    together: int = 0
    """Hold each search until this many have arrived (proves that searches run concurrently)."""
    requests: list[Request] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/search", self._searxng, methods=["GET"]),
                Route("/search", self._tavily, methods=["POST"]),
                Route("/res/v1/web/search", self._brave, methods=["GET"]),
            ]
        )

    async def _answer(self, request: Request, query: str, shape: str) -> Response:
        self.requests.append(request)
        if self.together and len(self.requests) >= self.together:
            self._arrived.set()
        if self.together:
            await asyncio.wait_for(self._arrived.wait(), timeout=5)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.body is not None or self.status != 200:
            return Response(self.body or b'{"error": "boom"}', status_code=self.status)
        pages = list(self.pages.get(query, ()))
        if shape == "brave":
            results = [{**p, "description": p.get("content")} for p in pages]
            return JSONResponse({"type": "search", "web": {"results": results}})
        return JSONResponse({"query": query, "results": pages})

    async def _searxng(self, request: Request) -> Response:
        return await self._answer(request, request.query_params.get("q", ""), "searxng")

    async def _tavily(self, request: Request) -> Response:
        body = await request.json()
        self.bodies.append(body)
        return await self._answer(request, body.get("query", ""), "tavily")

    async def _brave(self, request: Request) -> Response:
        return await self._answer(request, request.query_params.get("q", ""), "brave")

    def transport(self) -> httpx2.AsyncBaseTransport:
        return httpx2.ASGITransport(app=self.app)

    def routed(self, upstream: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        return _Routed(self.transport(), upstream)


class _Routed(httpx2.AsyncBaseTransport):
    def __init__(self, search: httpx2.AsyncBaseTransport, upstream: httpx2.AsyncBaseTransport) -> None:
        self._search = search
        self._upstream = upstream

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        target = self._search if request.url.host == "search.test" else self._upstream
        return await target.handle_async_request(request)

"""One upstream base URL over one pooled transport.

This is httpx2's ``AsyncClient`` reduced to what talking to a provider needs: a
request goes straight to the transport, with the URL, headers and timeouts
prepared once. Redirect handling, cookies, auth flows and per-request URL
merging are never used here, and measured as about a sixth of Parley's CPU per
response. The transport stays the one outbound seam: the recorder and the
aiohttp-backed pool both sit behind it.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx2

from parley import __version__

_JSON = ("content-type", "application/json")


class Endpoint:
    def __init__(
        self,
        base_url: str,
        transport: httpx2.AsyncBaseTransport,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 600.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self._base = base_url.rstrip("/") + "/"
        self._root = self._base.removesuffix("v1/")
        """Where a server's own endpoints live (llama.cpp's ``/tokenize``): the base without ``/v1``."""
        self._transport = transport
        self._headers = [("user-agent", f"parley/{__version__}"), *(headers or {}).items()]
        self._urls: dict[str, httpx2.URL] = {}
        self._extensions = {
            "timeout": {"connect": connect_timeout, "read": timeout, "write": timeout, "pool": timeout}
        }
        self.url = str(httpx2.URL(self._base).copy_with(username=None, password=None)).rstrip("/")
        """The base URL as it may be shown in errors and logs: without any user or password in it."""

    def _url(self, path: str) -> httpx2.URL:
        """``path`` relative to the base URL, or, starting with ``/``, to the server's root."""
        url = self._urls.get(path)
        if url is None:
            whole = self._root + path[1:] if path.startswith("/") else self._base + path
            url = self._urls[path] = httpx2.URL(whole)
        return url

    async def send(self, method: str, path: str, json_body: bytes | None = None) -> httpx2.Response:
        """Send; the answer's body is left unread, to be streamed or read by the caller."""
        headers = self._headers if json_body is None else [*self._headers, _JSON]
        request = httpx2.Request(
            method, self._url(path), headers=headers, content=json_body, extensions=self._extensions
        )
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._transport.aclose()

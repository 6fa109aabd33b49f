"""Any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama, llama.cpp, ...).

The provider owns one pooled endpoint for its whole life (never a client per
request) and translates every httpx2 failure into Parley's ``UpstreamError``
family in one context manager, keeping the upstream message.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx2
import orjson

from parley.errors import (
    ContextLengthExceeded,
    ParleyError,
    RecordingMissing,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatus,
    UpstreamTimeout,
)
from parley.providers.base import Json
from parley.providers.encoding import encode_body
from parley.providers.endpoint import Endpoint
from parley.providers.profiles import Capabilities, profile, recognise, server_of_url
from parley.providers.sse import iter_sse_data
from parley.providers.tokenize import count_tokens

log = logging.getLogger(__name__)


@contextmanager
def upstream_errors(name: str, url: str | None = None) -> Iterator[None]:
    """httpx2's failures as Parley's, naming the provider and where it was looked for. A provider that
    cannot be reached (refused, or no connection in time) is a 502; one that was reached but did not
    answer in time is a 504."""
    where = f"Provider '{name}'" + (f" at {url}" if url else "")
    try:
        yield
    except httpx2.ConnectTimeout as exc:
        raise UpstreamError(f"{where} could not be reached: {exc or 'connection timed out'}") from exc
    except httpx2.TimeoutException as exc:
        raise UpstreamTimeout(f"{where} timed out: {exc or type(exc).__name__}") from exc
    except httpx2.HTTPError as exc:
        raise UpstreamError(f"{where} could not be reached: {exc or type(exc).__name__}") from exc


_CONTEXT_OVERFLOW = re.compile(
    r"context_length_exceeded|maximum context length|context window|exceeds the available context"
    r"|too many tokens",
    re.IGNORECASE,
)


def status_error(status: int, body: str) -> ParleyError:
    """A provider's error answer; input too long for the model is the caller's 400, as in OpenAI."""
    if status in (400, 413) and _CONTEXT_OVERFLOW.search(body):
        return ContextLengthExceeded(body)
    return UpstreamStatus(status, body)


class OpenAICompatProvider:
    def __init__(
        self,
        name: str,
        endpoint: Endpoint,
        *,
        server: str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        """``server``: the row of ``profiles.SERVERS`` to use; None: recognise the server at first
        contact. ``overrides``: capabilities set in the config, which win over the row."""
        self.name = name
        self._endpoint = endpoint
        self._overrides = dict(overrides or {})
        known = server or server_of_url(endpoint.url)
        self.capabilities: Capabilities = profile(known or "generic", self._overrides)
        self._recognised = known is not None
        self._recognising = asyncio.Lock()

    async def recognise(self) -> None:
        """Ask the server its model list once and take the row of the server it names. A server
        that cannot be asked stays ``generic``; one that cannot be reached is asked again next time."""
        if self._recognised:
            return
        async with self._recognising:
            if self._recognised:
                return
            try:
                server = recognise(await self.get_json("models"))
            except (UpstreamStatus, UpstreamProtocolError, RecordingMissing) as exc:
                log.info("provider %r not recognised (%s): taken as generic", self.name, exc.message)
                server = "generic"
            except UpstreamError:  # not reached: asked again at the next request
                return
            self.capabilities = profile(server, self._overrides)
            self._recognised = True
            log.info("provider %r at %s is %s", self.name, self._endpoint.url, server)

    async def count_tokens(self, model: str, texts: list[str]) -> list[int] | None:
        tokenizer = self.capabilities.tokenizer
        if tokenizer == "none":
            return None
        return await count_tokens(self._post_any, tokenizer, model, texts)

    @asynccontextmanager
    async def _streamed(self, path: str, body: Json) -> AsyncIterator[httpx2.Response]:
        """The upstream answer, headers read and status checked; the body is left to stream."""
        with upstream_errors(self.name, self._endpoint.url):
            response = await self._endpoint.send("POST", path, encode_body(body))
        try:
            with upstream_errors(self.name, self._endpoint.url):
                if response.status_code >= 400:
                    raise status_error(
                        response.status_code, (await response.aread()).decode(errors="replace")
                    )
                yield response
        finally:
            await response.aclose()

    async def stream_chat(self, body: Json) -> AsyncIterator[Json]:
        async with self._streamed("chat/completions", {**body, "stream": True}) as response:
            if response.headers.get("content-type", "").startswith("application/json"):
                # A server that ignored ``stream``: its one completion, as the chunks it would have sent.
                for chunk in completion_as_chunks(self._json(await response.aread())):
                    yield chunk
                return
            done, last_choices = False, None
            async for data in iter_sse_data(_body_bytes(response)):
                # Read on past [DONE] to the end of the body: a connection closed with its body
                # unread cannot go back to the pool, and every response would pay a new handshake.
                if done or data == b"[DONE]":
                    done = True
                    continue
                chunk = self._chunk(data)
                last_choices = chunk.get("choices") or last_choices
                yield chunk
            if not done and not any(choice.get("finish_reason") for choice in last_choices or ()):
                # Cut off: a stream that ends says why (finish_reason) or at least [DONE].
                raise UpstreamProtocolError(
                    f"Provider '{self.name}' ended its stream before the answer was finished "
                    "(no finish_reason, no [DONE])."
                )

    def _chunk(self, data: bytes) -> Json:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamProtocolError(
                f"Provider '{self.name}' sent a malformed stream event: {data[:500]!r}"
            ) from None
        if not isinstance(chunk, dict):
            raise UpstreamProtocolError(
                f"Provider '{self.name}' sent a non-object stream event: {data[:500]!r}"
            )
        if "error" in chunk and "choices" not in chunk:
            raise UpstreamStatus(200, orjson.dumps(chunk["error"]).decode())
        return chunk

    async def post_stream(self, path: str, body: Json) -> AsyncGenerator[bytes, None]:
        async with self._streamed(path, body) as response:
            async for chunk in response.aiter_bytes():
                yield chunk

    async def post_json(self, path: str, body: Json) -> Json:
        return self._object(await self._read("POST", path, orjson.dumps(body)))

    async def get_json(self, path: str) -> Json:
        return self._object(await self._read("GET", path))

    async def _post_any(self, path: str, body: Json) -> Any:
        return await self._read("POST", path, orjson.dumps(body))

    async def _read(self, method: str, path: str, body: bytes | None = None) -> Any:
        with upstream_errors(self.name, self._endpoint.url):
            response = await self._endpoint.send(method, path, body)
            try:
                await response.aread()
            finally:
                await response.aclose()
        return self._parsed(response)

    def _json(self, response: httpx2.Response | bytes) -> Json:
        return self._object(self._parsed(response))

    def _parsed(self, response: httpx2.Response | bytes) -> Any:
        if isinstance(response, httpx2.Response) and response.status_code >= 400:
            raise status_error(response.status_code, response.text)
        content = response.content if isinstance(response, httpx2.Response) else response
        try:
            value: Any = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise UpstreamProtocolError(
                f"Provider '{self.name}' answered with invalid JSON: {content[:500]!r}"
            ) from None
        return value

    def _object(self, value: Any) -> Json:
        if not isinstance(value, dict):
            raise UpstreamProtocolError(f"Provider '{self.name}' answered with a non-object: {value!r:.500}")
        return value

    async def aclose(self) -> None:
        await self._endpoint.aclose()


def completion_as_chunks(completion: Json) -> list[Json]:
    """A non-streamed ``chat.completion`` as the ``chat.completion.chunk`` objects that stream it."""
    chunks: list[Json] = []
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        fields = ("content", "reasoning_content", "reasoning", "refusal")
        delta = {k: message[k] for k in fields if message.get(k)}
        calls = message.get("tool_calls") or []
        if calls:
            delta["tool_calls"] = [{**call, "index": i} for i, call in enumerate(calls)]
        chunks.append(
            {
                "choices": [
                    {
                        "index": choice.get("index", 0),
                        "delta": delta,
                        "logprobs": choice.get("logprobs"),
                        "finish_reason": choice.get("finish_reason"),
                    }
                ]
            }
        )
    if completion.get("usage"):
        chunks.append({"choices": [], "usage": completion["usage"]})
    return chunks


def _body_bytes(response: httpx2.Response) -> AsyncIterator[bytes]:
    """The body as it comes off the transport, when it is not compressed: two generator layers
    less per streamed token than ``aiter_bytes`` (a decoder that would pass it through, and a
    chunker), measured at a few percent of a paced stream's CPU."""
    if response.headers.get("content-encoding", "identity") != "identity":
        return response.aiter_bytes()
    return aiter(response.stream)  # type: ignore[arg-type]

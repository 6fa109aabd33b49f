"""End-to-end fixtures: Parley and a scripted upstream, both served by uvicorn on loopback.

The servers are started once per session, each in its own thread with its own event loop; a test
sets the upstream's answers with ``upstream.script(Reply(...), ...)``. Tests talk to Parley through
the official ``openai`` SDK, sync or async behind one small ``Api`` adapter, so that each scenario
is written once and run with both clients.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import httpx2
import openai
import pytest
import uvicorn
from openai.lib.streaming.responses import ResponseStreamEvent as HelperEvent
from openai.types.responses import ParsedResponse, Response, ResponseItem, ResponseStreamEvent
from playwright.async_api import Browser, Page, Request, async_playwright
from starlette.types import ASGIApp

from parley.app import create_app
from parley.config import ProviderConfig, Settings
from parley.serving import WEBSOCKETS
from parley.testing.fake_upstream import FakeUpstream, Reply
from tests.support.browser import chromium

T = TypeVar("T")
Json = dict[str, Any]
MODEL = "fake-model"
STARTUP_TIMEOUT = 10.0


class ScriptedUpstream:
    """A FakeUpstream whose answers each test sets; requests are kept per test."""

    def __init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self.fake = FakeUpstream(self._next_reply)
        self.base_url = ""

    def _next_reply(self, body: Json) -> Reply:
        if self._replies:
            return self._replies.popleft()
        error = {"message": "e2e script exhausted", "type": "script_exhausted", "code": None}
        return Reply(status=500, error_body={"error": error})

    def script(self, *replies: Reply) -> None:
        self._replies.clear()
        self._replies.extend(replies)

    @property
    def requests(self) -> list[Json]:
        return self.fake.requests

    @property
    def unused(self) -> int:
        return len(self._replies)

    def reset(self) -> None:
        self._replies.clear()
        self.fake.requests.clear()


@contextlib.contextmanager
def serve(
    app: ASGIApp, *, name: str, lifespan: Literal["on", "off"], probe: str, websockets: bool = False
) -> Iterator[int]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yield the port, then stop it.

    ``websockets`` serves WebSockets with the settings ``parley serve`` uses; without it uvicorn
    refuses them (one protocol less to start for the tests that only speak HTTP)."""
    # TCP by name: asyncio sets TCP_NODELAY on accepted connections only for IPPROTO_TCP sockets;
    # on protocol 0 every keep-alive request after the first waited 40 ms (the delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        loop="asyncio",
        **(WEBSOCKETS if websockets else {"ws": "none"}),
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"e2e-{name}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"the {name} server stopped during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {name} server did not start within {STARTUP_TIMEOUT} s")
            time.sleep(0.01)
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=STARTUP_TIMEOUT) as probe_client:
            assert probe_client.get(probe).status_code == 200
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive(), f"the {name} server did not shut down"


@pytest.fixture(scope="session")
def scripted_upstream() -> Iterator[ScriptedUpstream]:
    upstream = ScriptedUpstream()
    with serve(upstream.fake.app, name="upstream", lifespan="off", probe="/v1/models") as port:
        upstream.base_url = f"http://127.0.0.1:{port}/v1"
        yield upstream


@pytest.fixture
def upstream(scripted_upstream: ScriptedUpstream) -> Iterator[ScriptedUpstream]:
    """The session's upstream with an empty script and no recorded requests."""
    scripted_upstream.reset()
    yield scripted_upstream
    scripted_upstream.reset()


@contextlib.contextmanager
def own_parley(upstream: ScriptedUpstream, data_dir: Path, name: str, **settings: Any) -> Iterator[str]:
    """A Parley server of a test's own over ``upstream``, with ``settings`` beyond the defaults
    (keys, limits); its ``/v1`` URL."""
    configured = Settings(
        data_dir=data_dir, providers=(ProviderConfig("default", upstream.base_url),), **settings
    )
    with serve(create_app(configured), name=name, lifespan="on", probe="/health") as port:
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="session")
def parley_url(
    scripted_upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("parley-e2e")
    settings = Settings(data_dir=data_dir, providers=(ProviderConfig("default", scripted_upstream.base_url),))
    with serve(create_app(settings), name="parley", lifespan="on", probe="/health") as port:
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="session")
def sync_client(parley_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=parley_url, api_key="test", max_retries=0, timeout=20.0) as client:
        yield client


@pytest.fixture
async def async_client(parley_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=parley_url, api_key="test", max_retries=0, timeout=20.0) as client:
        yield client


class Api(Protocol):
    """The SDK calls the tests make, the same for the sync and the async client."""

    mode: str

    async def create(self, **params: Any) -> Response: ...

    async def create_stream(self, **params: Any) -> list[ResponseStreamEvent]: ...

    async def stream_helper(self, **params: Any) -> tuple[list[HelperEvent[None]], ParsedResponse[None]]: ...

    async def parse(self, text_format: type[T], **params: Any) -> ParsedResponse[T]: ...

    async def retrieve(self, response_id: str) -> Response: ...

    async def delete(self, response_id: str) -> None: ...

    async def input_items_page(self, response_id: str, **params: Any) -> tuple[list[ResponseItem], bool]: ...

    async def input_items_all(self, response_id: str, **params: Any) -> list[ResponseItem]: ...

    async def list_responses(self, **query: Any) -> Json: ...


class SyncApi:
    """Blocking calls from inside an async test are fine: both servers run in their own threads."""

    mode = "sync"

    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client

    async def create(self, **params: Any) -> Response:
        params.setdefault("model", MODEL)
        response: Response = self.client.responses.create(**params, stream=False)
        return response

    async def create_stream(self, **params: Any) -> list[ResponseStreamEvent]:
        params.setdefault("model", MODEL)
        with self.client.responses.create(**params, stream=True) as stream:
            return list(stream)

    async def stream_helper(self, **params: Any) -> tuple[list[HelperEvent[None]], ParsedResponse[None]]:
        params.setdefault("model", MODEL)
        with self.client.responses.stream(**params) as stream:
            events = list(stream)
            return events, stream.get_final_response()

    async def parse(self, text_format: type[T], **params: Any) -> ParsedResponse[T]:
        params.setdefault("model", MODEL)
        return self.client.responses.parse(text_format=text_format, **params)

    async def retrieve(self, response_id: str) -> Response:
        return self.client.responses.retrieve(response_id)

    async def delete(self, response_id: str) -> None:
        self.client.responses.delete(response_id)

    async def input_items_page(self, response_id: str, **params: Any) -> tuple[list[ResponseItem], bool]:
        page = self.client.responses.input_items.list(response_id, **params)
        return page.data, bool(page.has_more)

    async def input_items_all(self, response_id: str, **params: Any) -> list[ResponseItem]:
        return list(self.client.responses.input_items.list(response_id, **params))

    async def list_responses(self, **query: Any) -> Json:
        lister: Any = getattr(self.client.responses, "list", None)
        if lister is not None:  # not in openai 3.57; use it once the SDK grows it
            listed: Json = lister(**query).model_dump()
            return listed
        raw: Json = self.client.get("/responses", cast_to=dict, options={"params": query})
        return raw


class AsyncApi:
    mode = "async"

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    async def create(self, **params: Any) -> Response:
        params.setdefault("model", MODEL)
        response: Response = await self.client.responses.create(**params, stream=False)
        return response

    async def create_stream(self, **params: Any) -> list[ResponseStreamEvent]:
        params.setdefault("model", MODEL)
        async with await self.client.responses.create(**params, stream=True) as stream:
            return [event async for event in stream]

    async def stream_helper(self, **params: Any) -> tuple[list[HelperEvent[None]], ParsedResponse[None]]:
        params.setdefault("model", MODEL)
        async with self.client.responses.stream(**params) as stream:
            events = [event async for event in stream]
            return events, await stream.get_final_response()

    async def parse(self, text_format: type[T], **params: Any) -> ParsedResponse[T]:
        params.setdefault("model", MODEL)
        return await self.client.responses.parse(text_format=text_format, **params)

    async def retrieve(self, response_id: str) -> Response:
        return await self.client.responses.retrieve(response_id)

    async def delete(self, response_id: str) -> None:
        await self.client.responses.delete(response_id)

    async def input_items_page(self, response_id: str, **params: Any) -> tuple[list[ResponseItem], bool]:
        page = await self.client.responses.input_items.list(response_id, **params)
        return page.data, bool(page.has_more)

    async def input_items_all(self, response_id: str, **params: Any) -> list[ResponseItem]:
        return [item async for item in self.client.responses.input_items.list(response_id, **params)]

    async def list_responses(self, **query: Any) -> Json:
        lister: Any = getattr(self.client.responses, "list", None)
        if lister is not None:
            listed: Json = (await lister(**query)).model_dump()
            return listed
        raw: Json = await self.client.get("/responses", cast_to=dict, options={"params": query})
        return raw


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, sync_client: openai.OpenAI, async_client: openai.AsyncOpenAI) -> Api:
    if request.param == "sync":
        return SyncApi(sync_client)
    return AsyncApi(async_client)


async def post_response(base: str, key: str | None = None, **body: Any) -> Json:
    """``POST /responses`` to ``base`` (a server's ``/v1``), with ``key`` if given; the response."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(base_url=base, timeout=20, headers=headers) as client:
        answer = await client.post("/responses", json={"model": MODEL, **body})
    assert answer.status_code == 200, answer.text
    found: Json = answer.json()
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium for the UI tests (``tests/support/browser.py`` finds or installs it)."""
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A tab that fails its test on any request the page could not make and any script error."""
    opened = await browser.new_page()
    blocked: list[str] = []

    def failed(request: Request) -> None:
        if request.failure != "net::ERR_ABORTED":  # left behind by a navigation, as a user may do
            blocked.append(f"{request.url}: {request.failure}")

    opened.on("requestfailed", failed)
    opened.on("pageerror", lambda error: blocked.append(f"script error: {error}"))
    yield opened
    await opened.close()
    assert blocked == []

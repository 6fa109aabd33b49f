"""The local MiniLM embedder (real inference) and the OpenAI-compatible remote embedder."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import numpy as np
import orjson
import pytest
import uvicorn

from parley.errors import UpstreamError, UpstreamProtocolError, UpstreamStatus
from parley.providers.aiohttp_transport import AiohttpTransport
from parley.providers.embedders import Embedder, LocalEmbedder, RemoteEmbedder, local_embedder
from parley.providers.endpoint import Endpoint
from parley.providers.local_embedder import wordpiece
from parley.testing.fake_upstream import EMBEDDING_DIM, FakeUpstream


@pytest.fixture(scope="module")
def minilm() -> Iterator[LocalEmbedder]:
    """One embedder for the module: the model loads once, as in the server."""
    embedder = LocalEmbedder()
    yield embedder
    asyncio.run(embedder.aclose())


async def test_local_vectors_are_unit_rows_of_the_model_dimension(minilm: LocalEmbedder) -> None:
    vectors = await minilm.embed(["hello world", "", "a" * 5000])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert (await minilm.embed([])).shape == (0, 384)


def test_wordpiece_matches_bert_base_uncased() -> None:
    """The vendored vocabulary with BERT's normalizer (lowercase, accents stripped) and word splitter."""
    encoding = wordpiece().encode("Héllo, Tokenization! café", add_special_tokens=False)
    assert encoding.tokens == ["hello", ",", "token", "##ization", "!", "cafe"]
    assert encoding.ids == [7592, 1010, 19204, 3989, 999, 7668]


async def test_similar_sentences_score_higher_than_unrelated_ones(minilm: LocalEmbedder) -> None:
    cat, kitten, revenue = await minilm.embed(
        ["a cat sits on the mat", "a kitten is on a rug", "quarterly revenue grew 15%"]
    )
    assert cat @ kitten > 0.5
    assert cat @ kitten > cat @ revenue + 0.3


async def test_batching_does_not_change_vectors(minilm: LocalEmbedder) -> None:
    texts = [
        f"sentence number {i} about {'cats' if i % 2 else 'the stock market'} " * (i % 7 + 1)
        for i in range(40)
    ]
    together = await minilm.embed(texts)
    one_by_one = np.vstack([await minilm.embed([text]) for text in texts[:5]])
    np.testing.assert_allclose(together[:5], one_by_one, atol=2e-3)  # int8 kernels vary a little with shape
    in_nines = np.vstack([await minilm.embed(texts[i : i + 9]) for i in range(0, 40, 9)])
    np.testing.assert_allclose(together, in_nines, atol=2e-3)


async def test_a_long_text_is_embedded_whole_not_truncated(minilm: LocalEmbedder) -> None:
    """The tail of a text beyond 256 tokens still moves its vector (windows are averaged)."""
    head = "The museum opens at nine and closes at five on weekdays. " * 30  # > 256 tokens
    tails = ["Volcanoes erupt molten lava and ash. " * 30, "Interest rates and bond yields rose. " * 30]
    windowed = await minilm.embed([head + tails[0], head + tails[1]])
    assert windowed[0] @ windowed[1] < 0.95
    first_window = local_embedder("minilm-first-window")
    try:
        truncated = await first_window.embed([head + tails[0], head + tails[1]])
    finally:
        await first_window.aclose()
    assert truncated[0] @ truncated[1] > 0.999


async def test_concurrent_first_calls_load_once_and_agree() -> None:
    embedder = local_embedder("minilm")
    try:
        a, b = await asyncio.gather(embedder.embed(["same text"]), embedder.embed(["same text"]))
    finally:
        await embedder.aclose()
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert (embedder.model, embedder.dimension) == ("parley/all-minilm-l6-v2-int8", 384)


def test_unknown_local_embedder_is_refused() -> None:
    with pytest.raises(ValueError, match="minilm"):
        local_embedder("nope")


def test_both_embedders_satisfy_the_protocol() -> None:
    embedders: list[Embedder] = [
        LocalEmbedder(),
        RemoteEmbedder(
            "up", Endpoint("http://x/v1", httpx2.MockTransport(lambda r: httpx2.Response(500))), "m"
        ),
    ]
    assert [e.model for e in embedders] == ["parley/all-minilm-l6-v2-int8", "m"]


# --- remote -------------------------------------------------------------------------------------


def remote(handler: Any, dimension: int | None = None) -> tuple[RemoteEmbedder, list[dict[str, Any]]]:
    """A RemoteEmbedder over a MockTransport; the returned list collects the request bodies."""
    bodies: list[dict[str, Any]] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        bodies.append(orjson.loads(request.content))
        response: httpx2.Response = handler(bodies[-1])
        return response

    endpoint = Endpoint("http://up.test/v1", httpx2.MockTransport(record))
    return RemoteEmbedder("up", endpoint, "text-embedding-3-small", dimension), bodies


def answer(body: dict[str, Any], dimension: int = 3, scale: float = 2.0) -> httpx2.Response:
    data = [
        {"object": "embedding", "index": i, "embedding": [scale * (i + 1)] * dimension}
        for i in range(len(body["input"]))
    ]
    return httpx2.Response(200, json={"object": "list", "data": data[::-1], "model": body["model"]})


async def test_remote_batches_of_256_in_input_order_normalized() -> None:
    embedder, bodies = remote(answer)
    vectors = await embedder.embed([f"t{i}" for i in range(300)])
    assert [len(b["input"]) for b in bodies] == [256, 44]
    assert (bodies[0]["model"], bodies[0]["encoding_format"]) == ("text-embedding-3-small", "float")
    assert vectors.shape == (300, 3)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, np.full((300, 3), 1 / np.sqrt(3), dtype=np.float32), rtol=1e-6)
    assert embedder.dimension == 3


async def test_remote_dimension_is_learned_or_checked() -> None:
    embedder, _ = remote(answer)
    with pytest.raises(RuntimeError, match="not known yet"):
        _ = embedder.dimension
    assert await embedder.learn_dimension() == 3
    fixed, _ = remote(answer, dimension=1536)
    with pytest.raises(UpstreamProtocolError, match="expected 1536"):
        await fixed.embed(["x"])


async def test_remote_error_status_keeps_the_upstream_message() -> None:
    embedder, _ = remote(lambda body: httpx2.Response(429, json={"error": {"message": "slow down"}}))
    with pytest.raises(UpstreamStatus) as info:
        await embedder.embed(["x"])
    assert info.value.status == 429
    assert "slow down" in info.value.message


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b'{"data": "nope"}',
        b'{"data": [{"index": 0, "embedding": [1, 2]}, {"index": 1, "embedding": [1]}]}',
        b'{"data": [{"index": 0, "embedding": [1, 2]}]}',
    ],
)  # fmt: skip
async def test_remote_malformed_answers_are_protocol_errors(content: bytes) -> None:
    embedder, _ = remote(lambda body: httpx2.Response(200, content=content))
    with pytest.raises(UpstreamProtocolError):
        await embedder.embed(["a", "b"])


async def test_remote_unreachable_is_an_upstream_error() -> None:
    def refuse(body: dict[str, Any]) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused")

    embedder, _ = remote(refuse)
    with pytest.raises(UpstreamError, match="could not be reached"):
        await embedder.embed(["x"])


@pytest.fixture
def loopback_upstream() -> Iterator[str]:
    """The fake upstream served by uvicorn on a loopback port, so the real transport is exercised."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(FakeUpstream().app, lifespan="off", log_config=None, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
async def loopback_embedder(loopback_upstream: str) -> AsyncIterator[RemoteEmbedder]:
    embedder = RemoteEmbedder("fake", Endpoint(loopback_upstream, AiohttpTransport()), "fake-embed")
    yield embedder
    await embedder.aclose()


async def test_remote_against_a_real_server_on_loopback(loopback_embedder: RemoteEmbedder) -> None:
    vectors = await loopback_embedder.embed(["alpha", "beta", "alpha"])
    assert vectors.shape == (3, EMBEDDING_DIM)
    assert loopback_embedder.dimension == EMBEDDING_DIM
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert vectors[0] @ vectors[1] < 0.99

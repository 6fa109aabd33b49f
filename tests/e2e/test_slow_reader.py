"""A client that stops reading a stream: it costs bounded memory (Parley stops reading the provider
where it is, rather than buffering its answer), and once it has read nothing for ``stall_timeout``
it is dropped and its response recorded as failed. Real sockets on loopback, both ends served by
uvicorn: the bound is the socket's, which an in-process transport would not have."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from parley.app import create_app
from parley.config import ProviderConfig, Settings
from parley.testing.fake_upstream import Reply
from tests.e2e.conftest import ScriptedUpstream, serve

WORDS = 100_000
"""The answer's tokens: about 13 MB of events, far more than the sockets between the two hold
(about 12,000 tokens' worth here)."""
STALL_TIMEOUT = 3.0


@pytest.fixture
def parley(upstream: ScriptedUpstream, tmp_path: Path) -> Iterator[int]:
    provider = ProviderConfig("default", upstream.base_url, server="generic")
    settings = Settings(data_dir=tmp_path, providers=(provider,), stall_timeout=STALL_TIMEOUT)
    with serve(create_app(settings), name="parley-stall", lifespan="on", probe="/health") as port:
        yield port


def _start_and_stop_reading(port: int) -> tuple[socket.socket, str]:
    """A streamed request whose client reads its first events, then nothing: the response's id."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, as a slow phone's
    sock.connect(("127.0.0.1", port))
    body = json.dumps({"model": "fake-model", "input": "Talk.", "stream": True}).encode()
    head = "POST /v1/responses HTTP/1.1\r\nhost: parley\r\ncontent-type: application/json\r\n"
    sock.sendall(f"{head}content-length: {len(body)}\r\n\r\n".encode() + body)
    seen = b""
    while b'"response.created"' not in seen or b"\n\n" not in seen.split(b'"response.created"', 1)[1]:
        seen += sock.recv(4096)
    response_id = seen.split(b'"id":"resp_', 1)[1].split(b'"', 1)[0].decode()
    return sock, f"resp_{response_id}"


def _said_so_far(client: httpx2.Client, response_id: str) -> tuple[str, int]:
    response = client.get(f"/v1/responses/{response_id}").json()
    text = "".join(part.get("text", "") for item in response["output"] for part in item.get("content", ()))
    return response["status"], len(text.split())


def test_a_client_that_stops_reading_stops_the_stream_and_is_dropped(
    upstream: ScriptedUpstream, parley: int
) -> None:
    upstream.script(Reply(text="word " * WORDS), Reply(text="Still here."))
    sock, response_id = _start_and_stop_reading(parley)
    try:
        with httpx2.Client(base_url=f"http://127.0.0.1:{parley}", timeout=10) as client:
            said = _until_it_stops(client, response_id)
            # stopped where the sockets are full, far short of the answer, and not reading on
            assert 0 < said < WORDS // 4
            status, deadline = "in_progress", time.monotonic() + STALL_TIMEOUT + 10
            while status == "in_progress" and time.monotonic() < deadline:
                time.sleep(0.1)
                status, _ = _said_so_far(client, response_id)
            stored = client.get(f"/v1/responses/{response_id}").json()
            # The server could only close the connection, which waits for the client to take what
            # its socket holds; this one never will. Closing its end lets the server's go now.
            sock.close()
            time.sleep(0.3)
            after = client.post("/v1/responses", json={"model": "fake-model", "input": "Still there?"})
    finally:
        sock.close()
    assert stored["status"] == "failed"
    assert f"read nothing for {STALL_TIMEOUT:g} s" in stored["error"]["message"]
    assert after.json()["output"][0]["content"][0]["text"] == "Still here."


def _until_it_stops(client: httpx2.Client, response_id: str) -> int:
    """The words the response has said once they stop growing (checked 0.25 s apart)."""
    said: list[int] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (len(said) > 1 and said[-1] == said[-2] > 0):
        time.sleep(0.25)
        status, words = _said_so_far(client, response_id)
        assert status == "in_progress"
        said.append(words)
    assert len(said) > 1
    assert said[-1] == said[-2], said
    return said[-1]

"""A real S3-compatible server on loopback for the object-store tests: moto's, in a thread of the
test process, on a free port. Each test gets a bucket of its own and the AWS_* environment that
points at it, set through ``monkeypatch`` so that nothing leaks into other tests."""

from __future__ import annotations

import secrets
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest
from moto.server import ThreadedMotoServer

AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT",
    "AWS_ALLOW_HTTP",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@contextmanager
def moto_server() -> Iterator[str]:
    """The endpoint (``http://127.0.0.1:<port>``) of a moto server, stopped at the end."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def free_port() -> int:
    """A loopback port nothing listens on (just now): for the server, or as an endpoint that is down."""
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def point_at(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """The AWS environment of an S3-compatible server at ``endpoint``, and nothing else of AWS's."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "parley-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parley-test-secret")


def new_bucket(endpoint: str) -> str:
    """A fresh, empty bucket on the server (moto's accepts an unsigned request)."""
    name = f"parley-{secrets.token_hex(6)}"
    request = urllib.request.Request(f"{endpoint}/{name}", method="PUT")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    return name

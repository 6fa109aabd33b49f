"""`parley serve` as a user runs it: a real process on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from parley.cli import build_parser
from tests.support.workers import free_port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path) as (url, _):
        yield url


@contextlib.contextmanager
def serving(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parley",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # no provider and no local model (it may be installed here: tests/test_local_model.py has it)
        env={**os.environ, "PARLEY_LOCAL_MODEL": "off"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx2.get(f"{url}/health").status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"parley serve did not start:\n{output}")
            time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def test_serve_without_provider_starts_and_explains(server: str, tmp_path: Path) -> None:
    r = httpx2.post(f"{server}/v1/responses", json={"model": "any", "input": "hi"})
    assert r.status_code == 503
    assert "--provider-url" in r.json()["error"]["message"]
    assert (tmp_path / "parley.db").exists()
    assert httpx2.get(f"{server}/v1/models").json() == {"object": "list", "data": []}


def test_ctrl_c_stops_the_server_quietly(tmp_path: Path) -> None:
    with serving(tmp_path) as (_, process):
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        output = process.stdout.read().decode() if process.stdout else ""
    assert "Traceback" not in output


def test_every_serve_flag_has_help() -> None:
    parser = build_parser()
    serve = parser._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr,index]
    for action in serve._actions:
        if action.dest != "help":
            assert action.help
            assert "[env: " in action.help

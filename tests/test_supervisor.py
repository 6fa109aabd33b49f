"""``parley serve --workers N``'s supervisor: one socket per worker on the port, a clean stop on
Ctrl-C, a refusal when the port is taken, and no restart loop for workers that cannot start."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import uvicorn

from parley.supervisor import can_share_port, run_workers
from tests.support.workers import Connection, free_port, parley_workers, worker_of

pytestmark = pytest.mark.skipif(not can_share_port(), reason="SO_REUSEPORT balancing is Linux's")


def test_ctrl_c_stops_every_worker_gracefully(tmp_path: Path) -> None:
    with parley_workers(2, "http://127.0.0.1:9/v1", tmp_path / "data") as server:
        workers = server.workers()
        assert len(workers) >= 2
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=30) == 0
        log = server.log.read_text()
    assert log.count("Application shutdown complete") == 2
    assert log.count("Finished server process") == 2


def test_connections_opened_together_reach_both_workers(tmp_path: Path) -> None:
    with parley_workers(2, "http://127.0.0.1:9/v1", tmp_path / "data") as server:
        connections = [Connection(server.port) for _ in range(32)]
        for connection in connections:
            assert connection.request("GET", "/health")[0] == 200
        held = [worker_of(connection, server.workers()) for connection in connections]
        for connection in connections:
            connection.close()
    assert len(set(held)) == 2  # on one shared socket, one worker tends to take them all


def test_a_taken_port_is_refused(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "parley", "serve", "--workers", "2", "--port", str(port)]
        done = subprocess.run(
            [*argv, "--provider-url", "http://127.0.0.1:9/v1", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "address is in use" in done.stderr


def test_workers_that_cannot_start_are_not_started_again() -> None:
    config = uvicorn.Config("parley.no_such_module:app", port=free_port(), log_level="critical")
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    try:
        assert run_workers(config, 2) == 1
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert time.monotonic() - started < 30

"""``parley serve --workers N``'s supervisor: one socket per worker on the port, a clean stop on
Ctrl-C, a refusal when the port is taken, and no restart loop for workers that cannot start."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from parley.supervisor import _listening_socket, can_share_port, run_workers
from tests.support.workers import Connection, children, free_port, parley_workers, worker_of

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


async def tiny_app(scope: dict[str, object], receive: object, send: object) -> None:
    """What a worker serves in the supervisor's own tests: a 200 for any request."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"{}"})  # type: ignore[operator]


def test_a_worker_that_dies_is_replaced_and_sigterm_stops_them_all() -> None:
    port = free_port()
    config = uvicorn.Config("tests.test_supervisor:tiny_app", port=port, log_level="critical", lifespan="off")
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    replaced: list[int] = []

    def kill_one_then_stop() -> None:
        first = _serving_workers(port, 2)
        os.kill(first[0], signal.SIGKILL)
        later = _serving_workers(port, 2, without=first[0])
        replaced.extend(set(later) - set(first))
        os.kill(os.getpid(), signal.SIGTERM)  # as the service manager would

    helper = threading.Thread(target=kill_one_then_stop)
    helper.start()
    try:
        assert run_workers(config, 2) == 0
    finally:
        helper.join(timeout=60)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert len(replaced) == 1
    assert not Path(f"/proc/{replaced[0]}").exists() or "Z" in Path(f"/proc/{replaced[0]}/stat").read_text()


def _serving_workers(port: int, count: int, without: int | None = None) -> list[int]:
    """This process's workers that have answered on ``port`` (so have started), once ``count`` have."""
    answered: set[int] = set()
    deadline = time.monotonic() + 60
    while len(answered) < count and time.monotonic() < deadline:
        try:
            connection = Connection(port)
            connection.request("GET", "/")
        except OSError:
            time.sleep(0.05)
            continue
        pid = worker_of(connection, children(os.getpid()))
        connection.close()
        if pid is not None and pid != without:
            answered.add(pid)
    assert len(answered) >= count, f"{count} workers did not answer on {port}"
    return sorted(answered)


async def test_connections_accepted_on_the_shared_socket_send_small_writes_at_once() -> None:
    """asyncio sets TCP_NODELAY only on sockets made as TCP by name: on a protocol-0 socket each
    keep-alive request after the first waited 40 ms for the client's delayed ACK."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def note(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw = writer.get_extra_info("socket")
        accepted.set_result(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(note, sock=_listening_socket("127.0.0.1", free_port(), 8))
    async with server:
        _, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
        nodelay = await asyncio.wait_for(accepted, 5)
        writer.close()
    assert nodelay == 1

"""``parley serve --workers N``: N worker processes on one port, each with a listening socket of
its own, and a supervisor that starts one afresh when one dies.

On one shared socket (uvicorn's own ``--workers``) a worker that wakes first accepts every
connection then waiting: 32 keep-alive connections opened together measured 29 on one worker and
3 on the other, one core busy and one idle. With ``SO_REUSEPORT`` the kernel spreads connections
over the workers' sockets itself. Each worker starts in its own process group, so a Ctrl-C reaches
the supervisor alone, which stops every worker once, gracefully (their lifespans end what runs).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.context import SpawnProcess
from typing import Any

log = logging.getLogger("parley")

STOP_WAIT = 30.0
"""Seconds a worker has to end gracefully once told to stop."""


def can_share_port() -> bool:
    return hasattr(socket, "SO_REUSEPORT") and os.uname().sysname == "Linux"


def run_workers(config: Any, count: int) -> int:
    """Serve ``config`` (a ``uvicorn.Config``) from ``count`` processes until SIGINT or SIGTERM;
    the exit status."""
    if not _port_is_free(config.host, config.port):
        log.error("Cannot listen on %s:%s: the address is in use.", config.host, config.port)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    workers = [_start(config) for _ in range(count)]
    failed = False
    while not stop.wait(0.5):
        for index, (process, ready) in enumerate(workers):
            if process.is_alive():
                continue
            if not ready.is_set():  # it never served: starting another would fail the same way
                log.error("Worker %s exited (%s) while starting; stopping.", process.pid, process.exitcode)
                failed = True
                stop.set()
                break
            log.warning("Worker %s exited (%s); starting another.", process.pid, process.exitcode)
            workers[index] = _start(config)
    _stop([process for process, _ in workers])
    return 1 if failed else 0


def _start(config: Any) -> tuple[SpawnProcess, Any]:
    """A worker, and the event it sets once it serves."""
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_serve, args=(config, ready), daemon=False)
    process.start()
    return process, ready


def _stop(processes: list[SpawnProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # uvicorn's graceful shutdown
    deadline = time.monotonic() + STOP_WAIT
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def _serve(config: Any, ready: Any) -> None:  # pragma: no cover - runs in the worker process
    import uvicorn

    class Worker(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                ready.set()

    os.setpgrp()  # the terminal's Ctrl-C goes to the supervisor, which stops each worker once
    config.configure_logging()
    Worker(config).run(sockets=[_listening_socket(config.host, config.port, config.backlog)])


def _listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A shared listening socket. Named TCP (not protocol 0), so that asyncio sets ``TCP_NODELAY``
    on the connections it accepts: without, a keep-alive request waits out the peer's delayed ACK
    (40 ms) whenever uvloop is not the loop."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _port_is_free(host: str, port: int) -> bool:
    """No one listens there (with ``SO_REUSEPORT``, a second server would share it unnoticed)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET

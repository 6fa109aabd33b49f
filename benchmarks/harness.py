"""The things a benchmark measures: the server subprocesses, and the machine they run on.

A benchmark of Parley's overhead is only meaningful against real servers over real sockets, and
only repeatable if those servers never leak past the run and the result says what was measured.
This module owns that part: it starts a scripted fake upstream and a ``parley serve`` in front of it
on free loopback ports, waits until both answer, stops them on every exit path (including the
script being killed outright, on Linux), reads their RSS and CPU time from ``/proc``, and describes
the run's provenance (commit, machine, which ``parley`` source tree was served).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import datetime
import importlib.util
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import orjson

Json = dict[str, Any]

REPO = Path(__file__).resolve().parent.parent


# --- processes ----------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class Stack:
    """One fake upstream and the Parley in front of it."""

    upstream: Server
    parley: Server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if this script dies without running its cleanup (e.g. SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(
    name: str,
    argv: list[str],
    port: int,
    workdir: Path,
    procs: contextlib.ExitStack,
    *,
    settings: Mapping[str, str] | None = None,
) -> Server:
    """``settings``: environment variables the benchmark itself sets (``PARLEY_MAX_BACKGROUND``, say,
    which has no flag); the ``PARLEY_*`` of the caller's environment are never passed on."""
    log = workdir / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}  # no stray config
    env.update(settings or {})
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    procs.callback(stop, proc)
    return Server(name, proc, port, log)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def start_stack(
    name: str,
    tokens: int,
    delay_ms: float,
    tmp: Path,
    procs: contextlib.ExitStack,
    *,
    parley_settings: Mapping[str, str] | None = None,
) -> Stack:
    workdir = tmp / name
    workdir.mkdir()
    up_port, parley_port = free_port(), free_port()
    fake = f"-m parley.testing.fake_upstream --port {up_port} --tokens {tokens} --token-delay-ms {delay_ms}"
    serve = f"-m parley serve --host 127.0.0.1 --port {parley_port} --log-level warning"
    provider = ["--provider-url", f"http://127.0.0.1:{up_port}/v1", "--data-dir", str(workdir / "data")]
    upstream = spawn(f"{name}-upstream", fake.split(), up_port, workdir, procs)
    argv = [*serve.split(), *provider]
    parley = spawn(f"{name}-parley", argv, parley_port, workdir, procs, settings=parley_settings)
    return Stack(upstream, parley)


async def wait_ready(server: Server, path: str, deadline_s: float = 30.0) -> None:
    async with httpx2.AsyncClient(base_url=server.url, timeout=2.0) as client:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if server.proc.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx2.HTTPError):
                if (await client.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer GET {path} within {deadline_s} s:\n{server.log_tail()}")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of the whole process (all threads), from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


# --- clients: one pooled client per server ------------------------------------------------------


@dataclass
class Target:
    """A server under load: the client that drives it and the process whose CPU is charged."""

    name: str
    client: httpx2.AsyncClient
    pid: int


@contextlib.asynccontextmanager
async def targets(stack: Stack) -> AsyncIterator[tuple[Target, Target]]:
    """(upstream, parley), each with its own pooled client sized for 64 concurrent requests."""
    # Idle connections expire before the servers' own keep-alive timeout (uvicorn: 5 s) can close them
    # under a request that is being sent on them; that race is the client's, not the server's.
    limits = httpx2.Limits(max_connections=128, max_keepalive_connections=128, keepalive_expiry=2.0)
    timeout = httpx2.Timeout(60.0, connect=10.0)
    clients = [
        httpx2.AsyncClient(base_url=s.url, limits=limits, timeout=timeout)
        for s in (stack.upstream, stack.parley)
    ]
    try:
        yield (
            Target("upstream", clients[0], stack.upstream.proc.pid),
            Target("parley", clients[1], stack.parley.proc.pid),
        )
    finally:
        for client in clients:
            await client.aclose()


async def streamed_turn(client: httpx2.AsyncClient, body: Json) -> str:
    """One streamed ``POST /v1/responses`` read to its end; the id of its response, or an error."""
    async with client.stream("POST", "/v1/responses", json=body) as response:
        answer = await response.aread()
    if response.status_code != 200 or b"event: response.completed" not in answer:
        raise RuntimeError(f"turn failed: {response.status_code} {answer[-300:]!r}")
    start = answer.index(b'"id":"resp_') + 6
    return answer[start : answer.index(b'"', start)].decode()


# --- what was measured, and where ---------------------------------------------------------------


def parley_src() -> str:
    """Where the servers' ``parley`` package comes from (they inherit this environment, PYTHONPATH too)."""
    spec = importlib.util.find_spec("parley")
    return str(Path(spec.origin).parent) if spec is not None and spec.origin else "not found"


def git(*argv: str) -> str:
    try:
        done = subprocess.run(
            ["git", *argv], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


def cpu_ns(pid: int) -> int:
    """Nanoseconds all of the process's threads have run (``/proc/<pid>/task/*/schedstat``): a turn
    takes about a millisecond, far below the 10 ms ticks of ``/proc/<pid>/stat``."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def message_text(content: Any) -> str:
    """A chat message's text, whether its content is a string or a list of parts."""
    if isinstance(content, list):
        return "".join(part.get("text") or "" for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def stderr_log(benchmark: str) -> Callable[[str], None]:
    """Progress lines on stderr, so that stdout stays the one JSON line."""

    def log(message: str) -> None:
        print(f"[{benchmark}] {message}", file=sys.stderr, flush=True)

    return log


def serve_on(app: Any, port: int) -> None:
    """Serve ``app`` on loopback, with the fastest loop and parser installed (a benchmark's own server
    process: the servers it talks to must not be what it measures)."""
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        access_log=False,
        log_level="warning",
    )


def with_servers(run: Callable[[Path, contextlib.ExitStack], Coroutine[Any, Any, Json]]) -> Json:
    """``run`` given a scratch directory and an exit stack that stops the servers it starts, also
    when the benchmark is killed (SIGTERM, from a timeout say): no server outlives its benchmark."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp, contextlib.ExitStack() as procs:
        return asyncio.run(run(Path(tmp), procs))


def run_options(parser: argparse.ArgumentParser, quick: str) -> None:
    """``--quick`` (``quick`` says what it runs), ``--timeout`` and ``--out``: every run's options."""
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    parser.add_argument("--out", type=Path, help="also append the JSON line to this file")


def run_main(
    args: argparse.Namespace, run: Callable[..., Coroutine[Any, Any, Json]], *, lean_client: bool = False
) -> int:
    """``run(args, tmp, procs)`` under ``--timeout``, its servers stopped after; its JSON line emitted.
    ``lean_client``: the client's own event loop is uvloop, as lean as the servers' (where the
    client's CPU shares the machine with them)."""
    if lean_client and importlib.util.find_spec("uvloop"):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    result = with_servers(lambda tmp, procs: asyncio.wait_for(run(args, tmp, procs), args.timeout))
    emit(result, args.out)
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(143)


def emit(report: Json, out: Path | None) -> None:
    """The benchmark's one JSON line, on stdout and, with ``--out``, appended to that file."""
    line = orjson.dumps(report).decode()
    print(line)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as handle:
            handle.write(line + "\n")


def provenance(benchmark: str, **machine_facts: Any) -> Json:
    """What every benchmark's JSON line opens with: which benchmark, the commit (and whether
    ``src/`` had uncommitted changes), when, and on what machine (plus ``machine_facts``)."""
    return {
        "benchmark": benchmark,
        "commit": git("rev-parse", "--short", "HEAD"),
        "commit_dirty": bool(git("status", "--porcelain", "--", "src")),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), **machine_facts},
    }


def machine() -> Json:
    cpu = ""
    with contextlib.suppress(OSError):
        models = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        cpu = models[0] if models else ""
    return {
        "platform": platform.platform(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
    }

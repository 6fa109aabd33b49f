"""What do open streams cost in memory, and does a client that stops reading grow it? Targets:
1,000 open paced streams cost <= 100 MB above idle RSS; stalled readers do not grow it.

``parley serve`` runs over a fake upstream on loopback (``harness.py``). Parley's RSS
(``/proc/<pid>/status``) is read at idle after a warm-up, then sampled every 50 ms while 1,000
streams are open at once, each paced by the upstream (``--tokens`` words, ``--delay-ms`` apart) and
read to its end: the peak above idle is what open streams cost. Then a second Parley, over an
upstream whose answers are 100,000 words and unpaced, gets ``--stalled`` streams from raw sockets
that read the first events and then nothing: its RSS is read once they have stalled and again
``--hold`` seconds later. Parley stops reading the upstream for a stalled stream, so the second
reading is the first (``stall_timeout`` is set past the run: they are watched, not dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import time
from pathlib import Path

import httpx2
from harness import (
    Json,
    Stack,
    cpu_seconds,
    parley_src,
    provenance,
    rss_mb,
    run_main,
    run_options,
    start_stack,
    streamed_turn,
    wait_ready,
)

BODY: Json = {"model": "fake-model", "input": "hi", "stream": True}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=1000, help="paced streams open at once")
    parser.add_argument("--tokens", type=int, default=32, help="words per paced answer")
    parser.add_argument("--delay-ms", type=float, default=100.0, help="between a paced answer's words")
    parser.add_argument("--stalled", type=int, default=50, help="streams whose client stops reading")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds the stalled clients are watched")
    run_options(parser, quick="200 streams, 4 stalled, held 1 s")
    return parser.parse_args(argv)


async def _stream(client: httpx2.AsyncClient) -> None:
    await streamed_turn(client, BODY)


async def idle_rss(stack: Stack) -> float:
    """RSS after a warm-up that has loaded everything a stream touches."""
    async with httpx2.AsyncClient(base_url=stack.parley.url, timeout=60) as client:
        await asyncio.gather(*(_stream(client) for _ in range(16)))
    await asyncio.sleep(0.5)
    return rss_mb(stack.parley.proc.pid) or 0.0


async def open_streams(stack: Stack, streams: int) -> Json:
    """``streams`` paced streams at once, read to their ends; Parley's peak RSS meanwhile."""
    peak, done = 0.0, asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(stack.parley.proc.pid) or 0.0)
            await asyncio.sleep(0.05)

    limits = httpx2.Limits(max_connections=streams, max_keepalive_connections=streams)
    async with httpx2.AsyncClient(base_url=stack.parley.url, limits=limits, timeout=300) as client:
        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(_stream(client) for _ in range(streams)), return_exceptions=True)
        elapsed = time.perf_counter() - started
        done.set()
        await sampler
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    return {"streams": streams, "errors": len(errors), "seconds": round(elapsed, 2), "peak_rss_mb": peak}


def _stall(port: int) -> socket.socket:
    """A streamed request whose client reads its first events and then nothing."""
    sock = socket.create_connection(("127.0.0.1", port))
    body = b'{"model": "fake-model", "input": "hi", "stream": true}'
    head = b"POST /v1/responses HTTP/1.1\r\nhost: parley\r\ncontent-type: application/json\r\n"
    sock.sendall(head + b"content-length: %d\r\n\r\n" % len(body) + body)
    sock.recv(4096)
    return sock


async def stalled_readers(stack: Stack, count: int, hold: float) -> Json:
    socks = [_stall(stack.parley.port) for _ in range(count)]
    started = time.monotonic()
    try:
        busy = 1.0
        while busy > 0.02:  # stalled: every stream waits on its client, and Parley has nothing to do
            before = cpu_seconds(stack.parley.proc.pid) or 0.0
            await asyncio.sleep(1.0)
            busy = (cpu_seconds(stack.parley.proc.pid) or 0.0) - before
        took = time.monotonic() - started
        stalled = rss_mb(stack.parley.proc.pid) or 0.0
        await asyncio.sleep(hold)
        later = rss_mb(stack.parley.proc.pid) or 0.0
    finally:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()
    return {
        "clients": count,
        "seconds_to_stall": round(took, 1),
        "rss_when_stalled_mb": stalled,
        "rss_later_mb": later,
        "held_s": hold,
    }


async def run(args: argparse.Namespace, tmp: Path, procs: contextlib.ExitStack) -> Json:
    streams, stalled, hold = (200, 4, 1.0) if args.quick else (args.streams, args.stalled, args.hold)
    paced = start_stack("paced", args.tokens, args.delay_ms, tmp, procs)
    settings = {"PARLEY_STALL_TIMEOUT": "300"}  # held, not dropped, while they are watched
    long = start_stack("long", 100_000, 0.0, tmp, procs, parley_settings=settings)
    for stack in (paced, long):
        await wait_ready(stack.upstream, "/v1/models")
        await wait_ready(stack.parley, "/health")
    idle = await idle_rss(paced)
    opened = await open_streams(paced, streams)
    long_idle = rss_mb(long.parley.proc.pid) or 0.0
    stalls = await stalled_readers(long, stalled, hold)
    results = {
        "idle_rss_mb": idle,
        "open_streams": {**opened, "above_idle_mb": round(opened["peak_rss_mb"] - idle, 1)},
        "stalled": {
            **stalls,
            "idle_rss_mb": long_idle,
            "grew_while_held_mb": round(stalls["rss_later_mb"] - stalls["rss_when_stalled_mb"], 1),
        },
    }
    return {
        **provenance("bench_memory"),
        "config": {
            "tokens": args.tokens,
            "delay_ms": args.delay_ms,
            "quick": args.quick,
            "parley_src": parley_src(),
        },
        "results": results,
        "target_above_idle_mb": 100,
        "targets_met": results["open_streams"]["above_idle_mb"] <= 100
        and results["open_streams"]["errors"] == 0
        and results["stalled"]["grew_while_held_mb"] <= 1.0,
    }


def main(argv: list[str] | None = None) -> int:
    return run_main(parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())

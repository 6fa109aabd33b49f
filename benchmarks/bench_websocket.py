"""Does a turn over an open WebSocket cost Parley more than the same turn over HTTP+SSE? Target: the
ratio WebSocket / HTTP of Parley's CPU per turn, and of the wall-clock p50, is <= 1.0 at c=1 and c=32.

A fake upstream and ``parley serve`` (WebSockets on, as ``parley serve`` sets them) run on loopback
(``harness.py``). The same turn, ``{"model": "fake-model", "input": "hi", "store": false}`` (20
tokens back, no storage, so what differs is the transport), is made over HTTP (``"stream": true``,
the whole SSE body read, one pooled client with a connection per worker) and over WebSocket (one
socket per worker, opened once, a ``response.create`` message per turn, read to its terminal
event). At each concurrency the two alternate block by block, so drift on a shared machine hits both
alike. Parley's CPU per turn comes from ``/proc/<pid>/task/*/schedstat`` (all threads); wall times
are the client's, from sending the turn to its last event. One JSON line, like the other benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx2
import orjson
from harness import Json, cpu_ns, parley_src, provenance, run_main, run_options, start_stack, wait_ready
from load import percentile
from websockets.asyncio.client import ClientConnection, connect

LEVELS = (1, 32)
TERMINAL = (b'"response.completed"', b'"response.failed"', b'"response.incomplete"', b'"error"')
BODY: Json = {"model": "fake-model", "input": "hi", "store": False}
HTTP_BODY = {**BODY, "stream": True}
CREATE = orjson.dumps({"type": "response.create", **BODY}).decode()

Turn = Callable[[int], Awaitable[float]]
"""One turn by worker N; its wall time in seconds."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=1600, help="measured turns per transport and level")
    run_options(parser, quick="128 turns per transport and level")
    return parser.parse_args(argv)


def http_turns(client: httpx2.AsyncClient) -> Turn:
    async def one(worker: int) -> float:
        start = time.perf_counter()
        async with client.stream("POST", "/v1/responses", json=HTTP_BODY) as response:
            body = await response.aread()
        elapsed = time.perf_counter() - start
        if response.status_code != 200 or b"event: response.completed" not in body:
            raise RuntimeError(f"HTTP turn failed: {response.status_code} {body[-500:]!r}")
        return elapsed

    return one


def socket_turns(sockets: list[ClientConnection]) -> Turn:
    async def one(worker: int) -> float:
        ws = sockets[worker]
        start = time.perf_counter()
        await ws.send(CREATE)
        while True:
            message = await ws.recv(decode=False)
            kind = message[8 : message.index(b",")]  # orjson writes "type" first
            if kind in TERMINAL:
                break
        elapsed = time.perf_counter() - start
        if kind != b'"response.completed"':
            raise RuntimeError(f"WebSocket turn failed: {message[:500]!r}")
        return elapsed

    return one


async def block(turn: Turn, workers: int, turns: int) -> list[float]:
    """``turns`` turns shared by ``workers`` workers, each running its own one after the other."""
    per_worker = turns // workers

    async def worker(n: int) -> list[float]:
        return [await turn(n) for _ in range(per_worker)]

    return [t for times in await asyncio.gather(*(worker(n) for n in range(workers))) for t in times]


def summary(wall_s: list[float], cpu_ns_total: int, block_s: float) -> Json:
    wall_ms = [t * 1000 for t in wall_s]
    return {
        "turns": len(wall_ms),
        "parley_cpu_ms_per_turn": round(cpu_ns_total / len(wall_ms) / 1e6, 3),
        "p50_ms": percentile(wall_ms, 50),
        "p99_ms": percentile(wall_ms, 99),
        "turns_per_s": round(len(wall_ms) / block_s, 1),
    }


async def measure(transports: dict[str, Turn], pid: int, workers: int, turns: int, blocks: int) -> Json:
    """Alternate the transports block by block; CPU is Parley's, charged to the block that ran."""
    cpu = dict.fromkeys(transports, 0)
    spent = dict.fromkeys(transports, 0.0)
    wall: dict[str, list[float]] = {name: [] for name in transports}
    for _ in range(blocks):
        for name, turn in transports.items():
            before, started = cpu_ns(pid), time.perf_counter()
            wall[name] += await block(turn, workers, turns // blocks)
            cpu[name] += cpu_ns(pid) - before
            spent[name] += time.perf_counter() - started
    results: Json = {name: summary(wall[name], cpu[name], spent[name]) for name in transports}
    http, ws = results["http"], results["ws"]
    results["cpu_ratio_ws_over_http"] = round(
        ws["parley_cpu_ms_per_turn"] / http["parley_cpu_ms_per_turn"], 3
    )
    results["p50_ratio_ws_over_http"] = round(ws["p50_ms"] / http["p50_ms"], 3)
    return results


async def level(url: str, pid: int, workers: int, turns: int, blocks: int) -> Json:
    limits = httpx2.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            httpx2.AsyncClient(base_url=url, limits=limits, timeout=60.0)
        )
        ws_url = url.replace("http://", "ws://") + "/v1/responses"
        sockets = [
            await stack.enter_async_context(connect(ws_url, compression=None, max_size=None))
            for _ in range(workers)
        ]
        transports = {"http": http_turns(client), "ws": socket_turns(sockets)}
        for turn in transports.values():  # warm: connections, first imports, caches
            await block(turn, workers, workers * 3)
        return await measure(transports, pid, workers, turns, blocks)


async def run(args: argparse.Namespace, tmp: Path, procs: contextlib.ExitStack) -> Json:
    turns = 128 if args.quick else args.turns
    blocks = 2 if args.quick else 8
    stack = start_stack("websocket", 20, 0.0, tmp, procs)
    await wait_ready(stack.upstream, "/v1/models")
    await wait_ready(stack.parley, "/health")
    results = {
        f"c{workers}": await level(stack.parley.url, stack.parley.proc.pid, workers, turns, blocks)
        for workers in LEVELS
    }
    return {
        **provenance("bench_websocket"),
        "config": {
            "levels": list(LEVELS),
            "turns": turns,
            "blocks": blocks,
            "tokens": 20,
            "quick": args.quick,
            "parley_src": parley_src(),
        },
        "results": results,
        "target_ratio": 1.0,
    }


def main(argv: list[str] | None = None) -> int:
    return run_main(parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())

"""What do API keys cost, and do 500 concurrent streams under a key all arrive and stay retrievable?
Targets: auth adds <= 0.2 ms of Parley's CPU per request; 500 concurrent streams, 0 errors, every
completed response retrievable afterwards.

Two ``parley serve`` processes run side by side on loopback, each over its own fake upstream
(``harness.py``): one without keys, one with a key in its config file (``[[api_keys]]``), so every
request there is checked against the key ring. The same streamed turn (20 tokens, stored) is made on
both, block by block in alternation, and Parley's CPU per request (``/proc/<pid>/task/*/schedstat``,
all threads) is compared: the difference is what authentication costs. Then 500 streams are opened
at once on the keyed server, each read to its end, and each response fetched back by id.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

import httpx2
from harness import (
    Json,
    Stack,
    cpu_ns,
    parley_src,
    provenance,
    run_main,
    run_options,
    start_stack,
    streamed_turn,
    wait_ready,
)

KEY = "sk-parley-benchmark-0123456789abcdef"
BODY: Json = {"model": "fake-model", "input": "hi", "stream": True}
HEADERS = {"authorization": f"Bearer {KEY}"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=4000, help="measured requests per server")
    parser.add_argument("--burst", type=int, default=500, help="concurrent streams on the keyed server")
    run_options(parser, quick="400 requests per server, a burst of 100")
    return parser.parse_args(argv)


async def turn(client: httpx2.AsyncClient) -> str:
    return await streamed_turn(client, BODY)


async def block(client: httpx2.AsyncClient, workers: int, turns: int) -> None:
    async def worker() -> None:
        for _ in range(turns // workers):
            await turn(client)

    await asyncio.gather(*(worker() for _ in range(workers)))


async def overhead(open_: Stack, keyed: Stack, requests: int, blocks: int) -> Json:
    """Parley's CPU per request on each server, their blocks alternating."""
    servers = {"no_auth": (open_, {}), "auth": (keyed, HEADERS)}
    cpu = dict.fromkeys(servers, 0)
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(
                httpx2.AsyncClient(base_url=server.parley.url, headers=headers, timeout=60.0)
            )
            for name, (server, headers) in servers.items()
        }
        for client in clients.values():  # warm: connections, imports, the key ring
            await block(client, 8, 64)
        for _ in range(blocks):
            for name, (server, _) in servers.items():
                before = cpu_ns(server.parley.proc.pid)
                await block(clients[name], 8, requests // blocks)
                cpu[name] += cpu_ns(server.parley.proc.pid) - before
    per_request = {name: round(ns / requests / 1e6, 4) for name, ns in cpu.items()}
    return {
        "parley_cpu_ms_per_request": per_request,
        "auth_added_ms_per_request": round(per_request["auth"] - per_request["no_auth"], 4),
        "cpu_ratio_auth_over_no_auth": round(per_request["auth"] / per_request["no_auth"], 3),
    }


async def burst(keyed: Stack, streams: int) -> Json:
    """``streams`` streams at once; then every completed response fetched back by id."""
    limits = httpx2.Limits(max_connections=streams, max_keepalive_connections=streams)
    async with httpx2.AsyncClient(
        base_url=keyed.parley.url, headers=HEADERS, limits=limits, timeout=120.0
    ) as client:
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(turn(client) for _ in range(streams)), return_exceptions=True)
        elapsed = time.perf_counter() - started
        ids = [o for o in outcomes if isinstance(o, str)]
        fetched = await asyncio.gather(*(client.get(f"/v1/responses/{i}") for i in ids))
    completed = sum(r.status_code == 200 and r.json()["status"] == "completed" for r in fetched)
    return {
        "streams": streams,
        "errors": len(outcomes) - len(ids),
        "retrievable_after": completed,
        "seconds": round(elapsed, 3),
        "streams_per_s": round(streams / elapsed, 1),
    }


def keyed_config(tmp: Path) -> Path:
    path = tmp / "keys.toml"
    path.write_text(f'[[api_keys]]\nkey = "{KEY}"\nowner = "bench"\n')
    return path


async def run(args: argparse.Namespace, tmp: Path, procs: contextlib.ExitStack) -> Json:
    requests = 400 if args.quick else args.requests
    streams = 100 if args.quick else args.burst
    blocks = 2 if args.quick else 8
    open_ = start_stack("no-auth", 20, 0.0, tmp, procs)
    config = {"PARLEY_CONFIG": str(keyed_config(tmp))}
    keyed = start_stack("auth", 20, 0.0, tmp, procs, parley_settings=config)
    for stack in (open_, keyed):
        await wait_ready(stack.upstream, "/v1/models")
        await wait_ready(stack.parley, "/health")
    results = await overhead(open_, keyed, requests, blocks)
    results["burst"] = await burst(keyed, streams)
    return {
        **provenance("bench_auth"),
        "config": {
            "requests": requests,
            "blocks": blocks,
            "tokens": 20,
            "quick": args.quick,
            "parley_src": parley_src(),
        },
        "results": results,
        "target_auth_added_ms": 0.2,
    }


def main(argv: list[str] | None = None) -> int:
    return run_main(parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())

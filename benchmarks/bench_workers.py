"""Does ``parley serve --workers 2`` use both cores? Targets (issue 18): 256 concurrent streams paced
at 10 ms per token (32 tokens) >= 0.9x the upstream called directly, with ``--workers 2`` (the
single-worker figure beside it); non-stream responses/s at c=32 with ``--workers 2`` >= 1.6x
``--workers 1``; server CPU per token event (``cpu_us_per_token``, the whole process tree's).

Two fake upstreams, one paced (``--delay-ms`` between a stream's chunks) and one not, and two
``parley serve`` in front of them (config-file routes ``paced/...`` and ``fast/...``), one with
``--workers 1`` and one with ``--workers 2``, all on loopback, driven by a lean raw HTTP client
(``rawclient.py``). Each load runs against the upstream directly, then each Parley, one at a time.
A paced stream is read to its end. CPU is each server's whole process tree
(``/proc/<pid>/task/*/schedstat``); ``cores_busy`` adds the client's and the upstream's: on a
2-core machine shared by all three, it says when the machine, not Parley, set the rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

from harness import (
    Json,
    Server,
    cpu_ns,
    free_port,
    parley_src,
    provenance,
    run_main,
    run_options,
    spawn,
    wait_ready,
)
from load import percentile
from rawclient import Connection

CHAT, RESPONSES, DONE = "/v1/chat/completions", "/v1/responses", b"[DONE]"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=256, help="paced streams open at once")
    parser.add_argument("--rounds", type=int, default=8, help="streams per open slot, in sequence")
    parser.add_argument("--tokens", type=int, default=32, help="words per answer")
    parser.add_argument("--delay-ms", type=float, default=10.0, help="between a paced answer's words")
    parser.add_argument("--text-concurrency", type=int, default=32, help="non-stream requests at once")
    parser.add_argument("--text-requests", type=int, default=4000, help="non-stream requests per server")
    run_options(parser, quick="32 streams, 2 rounds, 200 non-stream requests")
    args = parser.parse_args(argv)
    if args.quick:
        args.streams, args.rounds, args.text_requests = 32, 2, 200
    return args


def tree_cpu_ns(pid: int) -> int:
    """CPU of ``pid`` and its children (a supervisor's workers), in nanoseconds."""
    total = cpu_ns(pid)
    for child in _children(pid):
        with contextlib.suppress(OSError):
            total += cpu_ns(child)
    return total


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


async def measure(
    server: Server,
    body: Json,
    path: str,
    must_end: bytes,
    total: int,
    slots: int,
    behind: Server | None = None,
) -> Json:
    """``total`` requests from ``slots`` connections; with ``behind`` (the upstream a Parley calls),
    its CPU too, and how many of the machine's cores the three (client, Parley, upstream) kept busy."""
    connections = [Connection("127.0.0.1", server.port) for _ in range(slots)]
    try:
        await asyncio.gather(*(c.post(path, body, must_end) for c in connections[:64]))  # warm-up
        latencies: list[float] = []
        queue = iter(range(total))

        async def slot(k: int) -> None:
            await asyncio.sleep(k * 0.3 / slots)  # staggered, as independent clients arrive
            for _ in queue:
                start = time.perf_counter()
                await connections[k].post(path, body, must_end)
                latencies.append((time.perf_counter() - start) * 1000)

        pids = [server.proc.pid] + ([behind.proc.pid] if behind else [])
        before, client_before = [tree_cpu_ns(pid) for pid in pids], time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(slot(k) for k in range(slots)))
        wall = time.perf_counter() - started
        cpu, *upstream = [tree_cpu_ns(pid) - was for pid, was in zip(pids, before, strict=True)]
        client = time.process_time() - client_before
    finally:
        for connection in connections:
            connection.close()
    row = {
        "n": total,
        "per_s": round(total / wall, 1),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "cpu_ms_per_request": round(cpu / total / 1e6, 3),
        "client_cpu_ms_per_request": round(client * 1000 / total, 3),
    }
    if upstream:
        row["upstream_cpu_ms_per_request"] = round(upstream[0] / total / 1e6, 3)
        row["cores_busy"] = round((cpu + upstream[0] + client * 1e9) / wall / 1e9, 2)
    return row


def upstream_server(
    name: str, tokens: int, delay_ms: float, tmp: Path, procs: contextlib.ExitStack
) -> Server:
    port = free_port()
    argv = ["-m", "parley.testing.fake_upstream", "--port", str(port), "--tokens", str(tokens)]
    return spawn(name, [*argv, "--token-delay-ms", str(delay_ms)], port, tmp, procs)


def parley_server(
    workers: int, upstreams: dict[str, Server], tmp: Path, procs: contextlib.ExitStack
) -> Server:
    """Models ``<name>/...`` go to the upstream of that name (``paced/...``, ``fast/...``)."""
    config = tmp / f"parley-w{workers}.toml"
    config.write_text(
        "".join(f'[[providers]]\nname = "{name}"\nurl = "{up.url}/v1"\n' for name, up in upstreams.items())
    )
    port = free_port()
    argv = ["-m", "parley", "serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    argv += ["--config", str(config), "--data-dir", str(tmp / f"data{workers}")]
    return spawn(f"parley-w{workers}", argv, port, tmp, procs)


async def run(args: argparse.Namespace, tmp: Path, procs: contextlib.ExitStack) -> Json:
    upstreams = {
        "paced": upstream_server("paced", args.tokens, args.delay_ms, tmp, procs),
        "fast": upstream_server("fast", args.tokens, 0, tmp, procs),
    }
    parleys = {workers: parley_server(workers, upstreams, tmp, procs) for workers in (1, 2)}
    for server in (*upstreams.values(), *parleys.values()):
        await wait_ready(server, "/v1/models", deadline_s=60)
    chat = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    streams, texts = args.streams * args.rounds, (args.text_requests, args.text_concurrency)
    paced_up, fast_up = upstreams["paced"], upstreams["fast"]
    paced = {"upstream": await measure(paced_up, {**chat, "stream": True}, CHAT, DONE, streams, args.streams)}
    nonstream = {"upstream": await measure(fast_up, chat, CHAT, b"}", *texts)}
    for workers, server in parleys.items():
        body = {"model": "paced/fake-model", "input": "hi", "stream": True}
        paced[f"workers{workers}"] = await measure(
            server, body, RESPONSES, DONE, streams, args.streams, behind=paced_up
        )
        body = {"model": "fast/fake-model", "input": "hi"}
        nonstream[f"workers{workers}"] = await measure(server, body, RESPONSES, b"}", *texts, behind=fast_up)
    return report(args, paced, nonstream)


def report(args: argparse.Namespace, paced: dict[str, Json], nonstream: dict[str, Json]) -> Json:
    for name, row in paced.items():
        if name != "upstream":
            row["vs_upstream"] = round(row["per_s"] / paced["upstream"]["per_s"], 3)
            row["cpu_us_per_token"] = round(row["cpu_ms_per_request"] * 1000 / args.tokens, 1)
    return {
        **provenance("bench_workers", cores=os.cpu_count()),
        "config": {
            "streams_open": args.streams,
            "streams": args.streams * args.rounds,
            "tokens": args.tokens,
            "delay_ms": args.delay_ms,
            "text_concurrency": args.text_concurrency,
            "text_requests": args.text_requests,
            "parley_src": parley_src(),
        },
        "paced_streams": paced,
        "nonstream": nonstream,
        "nonstream_workers2_vs_workers1": round(
            nonstream["workers2"]["per_s"] / nonstream["workers1"]["per_s"], 3
        ),
        "paced_workers2_vs_upstream": paced["workers2"]["vs_upstream"],
    }


def main(argv: list[str] | None = None) -> int:
    return run_main(parse_args(argv), run, lean_client=True)


if __name__ == "__main__":
    sys.exit(main())

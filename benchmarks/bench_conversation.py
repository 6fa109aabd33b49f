"""Does a long conversation make a turn cost more? Target: a turn on a conversation of 1,000 items
costs <= 1.2x a turn on a conversation of 10 items, in Parley's own time.

A fake upstream and ``parley serve`` run on loopback (``harness.py``). Two conversations are filled
through ``POST /v1/conversations/{id}/items`` (20 items a call, as OpenAI allows), one to 10 items
and one to 1,000; then turns are made on each, alternating, with ``store: false`` so neither grows
while it is measured. What is compared is Parley's CPU per turn (``/proc`` utime + stime of the
server process, all threads), which leaves out the upstream's own work of reading a longer
request; wall-clock p50s are reported too. One JSON line, like the other benchmarks.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import httpx2
from harness import Json, cpu_ns, emit, parley_src, provenance, start_stack, wait_ready, with_servers
from load import percentile

SIZES = (10, 1000)
BLOCK = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=300, help="measured turns per size (default 300)")
    parser.add_argument("--quick", action="store_true", help="30 turns and a 200-item conversation")
    parser.add_argument("--out", type=Path, help="also append the JSON line to this file")
    return parser.parse_args(argv)


async def filled(client: httpx2.AsyncClient, size: int) -> str:
    conversation: str = (await client.post("/v1/conversations", json={})).json()["id"]
    for start in range(0, size, 20):
        items = [
            {
                "type": "message",
                "role": "user" if n % 2 == 0 else "assistant",
                "content": f"Message {n}: a sentence or two of an ordinary chat, about as long as most.",
            }
            for n in range(start, min(start + 20, size))
        ]
        response = await client.post(f"/v1/conversations/{conversation}/items", json={"items": items})
        response.raise_for_status()
    return conversation


async def turn(client: httpx2.AsyncClient, conversation: str) -> float:
    body = {"model": "fake-model", "input": "And then?", "conversation": conversation, "store": False}
    start = time.perf_counter()
    response = await client.post("/v1/responses", json=body)
    elapsed = time.perf_counter() - start
    if response.status_code != 200 or response.json().get("status") != "completed":
        raise RuntimeError(f"turn failed: {response.status_code} {response.text[:500]}")
    return elapsed


async def measure(client: httpx2.AsyncClient, pid: int, conversations: dict[int, str], turns: int) -> Json:
    """Alternate sizes block by block (10 turns), so drift on a shared machine hits both alike."""
    cpu = dict.fromkeys(conversations, 0.0)
    wall: dict[int, list[float]] = {size: [] for size in conversations}
    for _ in range(0, turns, BLOCK):
        for size, conversation in conversations.items():
            before = cpu_ns(pid)
            for _ in range(BLOCK):
                wall[size].append(await turn(client, conversation) * 1000)
            cpu[size] += (cpu_ns(pid) - before) / 1e9
    return {
        str(size): {
            "items": size,
            "turns": turns,
            "parley_cpu_ms_per_turn": round(cpu[size] / turns * 1000, 3),
            "p50_ms": percentile(wall[size], 50),
            "p99_ms": percentile(wall[size], 99),
        }
        for size in conversations
    }


async def run(args: argparse.Namespace, tmp: Path, procs: contextlib.ExitStack) -> Json:
    sizes = (10, 200) if args.quick else SIZES
    turns = 30 if args.quick else args.turns
    stack = start_stack("conversation", 20, 0.0, tmp, procs)
    await wait_ready(stack.upstream, "/v1/models")
    await wait_ready(stack.parley, "/health")
    async with httpx2.AsyncClient(base_url=stack.parley.url, timeout=60.0) as client:
        conversations = {size: await filled(client, size) for size in sizes}
        for conversation in conversations.values():  # warm: first reads, first conversions
            for _ in range(5):
                await turn(client, conversation)
        results = await measure(client, stack.parley.proc.pid, conversations, turns)
    small, large = (results[str(size)]["parley_cpu_ms_per_turn"] for size in sizes)
    return {
        **provenance("bench_conversation"),
        "config": {"sizes": list(sizes), "turns": turns, "quick": args.quick, "parley_src": parley_src()},
        "results": results,
        "cpu_ratio_large_over_small": round(large / small, 3) if small else None,
        "target_ratio": 1.2,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = with_servers(lambda tmp, procs: run(args, tmp, procs))
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

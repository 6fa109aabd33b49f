"""Do background responses hold up under load, answer at once, and cost little more than foreground
ones? Targets: none of 1,000 lost; first event p50 <= 5 ms; CPU <= 1.2x a foreground stream's.

A paced fake upstream and ``parley serve`` run on loopback (``harness.py``). Three questions:

- ``bulk``: 1,000 background responses (``background: true``, not streamed) created as fast as 64
  creators can, then every one polled with GET until it is terminal: counts by status (all must
  be ``completed``), wall time of the creates and of the whole.
- ``first_event``: background streams created one at a time, timed from sending the POST to the
  whole first SSE event (``response.created``, written to the store with its job before it is
  sent); each client then leaves, and its response runs on. Foreground streams, timed the same
  way in alternation, are the reference.
- ``persist_cost``: Parley's CPU per response (``/proc/<pid>/task/*/schedstat``) of background
  streams, whose events are also written to the store, against foreground streams of the same
  answer, in alternating blocks so that drift on a shared machine hits both alike.

One JSON line, like the other benchmarks; the exit status is 0 only if every request succeeded
and every background response completed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import orjson
from harness import Json, emit, parley_src, provenance, start_stack, wait_ready, with_servers
from load import percentile

T = TypeVar("T")
TERMINAL = ("completed", "failed", "incomplete", "cancelled")
POLL_EVERY = 0.05
"""Seconds between rounds of GETs over the background responses not yet terminal."""
SETTLE = 0.1
"""Seconds a cost block waits after its last stream, so a background job's last write is charged to it."""
TARGET_FIRST_EVENT_P50_MS = 5.0
TARGET_CPU_RATIO = 1.2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--responses", type=int, default=1000, help="background responses in bulk (default 1000)")
    add("--creators", type=int, default=64, help="concurrent creators in bulk (default 64)")
    add("--first-events", type=int, default=200, help="background streams timed to their first event")
    add("--cost-blocks", type=int, default=20, help="blocks of each kind in persist_cost (default 20)")
    add("--cost-concurrency", type=int, default=32, help="streams at once in a cost block (default 32)")
    add("--tokens", type=int, default=20, help="words in each answer (default 20)")
    add("--token-delay-ms", type=float, default=10.0, help="upstream pause between chunks (default 10)")
    add("--max-background", type=int, default=256, help="PARLEY_MAX_BACKGROUND of the server (default 256)")
    add("--quick", action="store_true", help="small counts, for a smoke run")
    add("--timeout", type=float, default=600.0, help="give up after this many seconds (exit status 2)")
    add("--out", type=Path, help="also append the JSON line to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.responses, args.creators, args.first_events = 60, 16, 20
        args.cost_blocks, args.cost_concurrency = 2, 8
    return args


def request(n: int, *, stream: bool, background: bool) -> bytes:
    body = {"model": "fake-model", "input": f"Job {n}", "stream": stream, "background": background}
    return orjson.dumps(body)


async def pool(items: Iterable[T], workers: int, job: Callable[[T], Awaitable[None]]) -> None:
    """``job`` of every item, ``workers`` at a time."""
    shared = iter(items)

    async def worker() -> None:
        for item in shared:
            await job(item)

    await asyncio.gather(*(worker() for _ in range(workers)))


async def create_all(client: httpx2.AsyncClient, count: int, creators: int, errors: list[str]) -> list[str]:
    ids: list[str] = []

    async def create(n: int) -> None:
        answer = await client.post("/v1/responses", content=request(n, stream=False, background=True))
        if answer.status_code != 200 or answer.json().get("status") != "queued":
            errors.append(f"create {n}: {answer.status_code} {answer.text[:300]}")
            return
        ids.append(answer.json()["id"])

    await pool(range(count), creators, create)
    return ids


async def settle(client: httpx2.AsyncClient, ids: list[str], workers: int, deadline: float) -> Json:
    """Poll every response until it is terminal (or the deadline): its status, or ``lost``."""
    statuses: dict[str, str] = {}

    async def look(response_id: str) -> None:
        answer = await client.get(f"/v1/responses/{response_id}")
        status = answer.json().get("status") if answer.status_code == 200 else None
        if status in TERMINAL:
            statuses[response_id] = status

    pending = list(ids)
    while pending and time.monotonic() < deadline:
        await pool(pending, workers, look)
        pending = [response_id for response_id in pending if response_id not in statuses]
        if pending:
            await asyncio.sleep(POLL_EVERY)
    counts = collections.Counter(statuses.values())
    counts["lost"] = len(pending)
    return dict(counts)


async def bulk(
    client: httpx2.AsyncClient, args: argparse.Namespace, errors: list[str], deadline: float
) -> Json:
    started = time.perf_counter()
    ids = await create_all(client, args.responses, args.creators, errors)
    created_s = time.perf_counter() - started
    statuses = await settle(client, ids, args.creators, deadline)
    total_s = time.perf_counter() - started
    return {
        "responses": args.responses,
        "creators": args.creators,
        "created": len(ids),
        "by_status": statuses,
        "create_wall_s": round(created_s, 3),
        "creates_per_s": round(len(ids) / created_s, 1),
        "total_wall_s": round(total_s, 3),
        "completed_per_s": round(statuses.get("completed", 0) / total_s, 1),
    }


async def first_event_ms(client: httpx2.AsyncClient, body: bytes) -> tuple[float, str]:
    """From sending the POST to having the whole first event (and the response's id in it); then
    the client leaves."""
    start = time.perf_counter()
    seen = b""
    async with client.stream("POST", "/v1/responses", content=body) as answer:
        async for chunk in answer.aiter_raw():
            seen += chunk
            if b"\n\n" in seen:
                break
    elapsed = (time.perf_counter() - start) * 1000
    head, _, data = seen.partition(b"\n\n")[0].partition(b"\ndata: ")
    if head != b"event: response.created":
        raise RuntimeError(f"first event: {answer.status_code} {seen[:300]!r}")
    response_id: str = orjson.loads(data)["response"]["id"]
    return elapsed, response_id


async def first_events(client: httpx2.AsyncClient, samples: int, deadline: float) -> Json:
    """Background and foreground streams in alternation, one at a time; then every background one
    is polled to its end (each ran on without its client)."""
    timed: dict[str, list[float]] = {"background": [], "foreground": []}
    left: list[str] = []
    for n in range(samples):
        for kind in timed:
            elapsed, response_id = await first_event_ms(
                client, request(n, stream=True, background=kind == "background")
            )
            timed[kind].append(elapsed)
            if kind == "background":
                left.append(response_id)
        await asyncio.sleep(0.005)
    return {
        "samples": samples,
        "p50_ms": percentile(timed["background"], 50),
        "p99_ms": percentile(timed["background"], 99),
        "foreground_p50_ms": percentile(timed["foreground"], 50),
        "foreground_p99_ms": percentile(timed["foreground"], 99),
        "left_by_status": await settle(client, left, 16, deadline),
    }


async def stream_events(client: httpx2.AsyncClient, body: bytes) -> int:
    """A whole stream read; how many events it had (the ``[DONE]`` line is not one)."""
    async with client.stream("POST", "/v1/responses", content=body) as answer:
        whole = await answer.aread()
    if answer.status_code != 200 or b"event: response.completed\n" not in whole:
        raise RuntimeError(f"stream: {answer.status_code} {whole[-300:]!r}")
    return whole.count(b"\n\n") - 1


def thread_cpu_ns(pid: int) -> collections.Counter[str]:
    """Nanoseconds run (``/proc/<pid>/task/*/schedstat``) by the event loop's thread and by all the
    others (the SQLite writer's, where the store's work runs)."""
    spent: collections.Counter[str] = collections.Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            thread = "loop_ns" if task.name == str(pid) else "threads_ns"
            spent[thread] += int((task / "schedstat").read_text().split()[0])
    return spent


async def cost_block(client: httpx2.AsyncClient, pid: int, concurrency: int, background: bool) -> Json:
    before, started = thread_cpu_ns(pid), time.perf_counter()
    bodies = [request(n, stream=True, background=background) for n in range(concurrency)]
    events = await asyncio.gather(*(stream_events(client, body) for body in bodies))
    wall = time.perf_counter() - started
    await asyncio.sleep(SETTLE)
    spent = thread_cpu_ns(pid)
    spent.subtract(before)
    return {**spent, "wall_s": wall, "events": sum(events), "responses": concurrency}


async def persist_cost(client: httpx2.AsyncClient, pid: int, blocks: int, concurrency: int) -> Json:
    kinds = {"foreground": False, "background": True}
    totals: dict[str, collections.Counter[str]] = {kind: collections.Counter() for kind in kinds}
    for background in kinds.values():  # warm: first imports, caches, connections
        await cost_block(client, pid, concurrency, background)
    for _ in range(blocks):
        for kind, background in kinds.items():
            totals[kind].update(await cost_block(client, pid, concurrency, background))
    out: Json = {"concurrency": concurrency, "responses_each": blocks * concurrency}
    for kind, total in totals.items():
        per_response_ms = {key: value / total["responses"] / 1e6 for key, value in total.items()}
        out[kind] = {
            "cpu_ms_per_response": round(per_response_ms["loop_ns"] + per_response_ms["threads_ns"], 3),
            "loop_thread_ms_per_response": round(per_response_ms["loop_ns"], 3),
            "other_threads_ms_per_response": round(per_response_ms["threads_ns"], 3),
            "events_per_response": round(total["events"] / total["responses"], 1),
            "events_per_s": round(total["events"] / total["wall_s"], 1),
        }
    cpu = [out[kind]["cpu_ms_per_response"] for kind in kinds]
    out["cpu_ratio_background_over_foreground"] = round(cpu[1] / cpu[0], 3) if cpu[0] else None
    return out


async def measure(args: argparse.Namespace, tmp: Path, procs: contextlib.ExitStack) -> Json:
    settings = {"PARLEY_MAX_BACKGROUND": str(args.max_background)}
    stack = start_stack("background", args.tokens, args.token_delay_ms, tmp, procs, parley_settings=settings)
    await wait_ready(stack.upstream, "/v1/models")
    await wait_ready(stack.parley, "/health")
    limits = httpx2.Limits(max_connections=128, max_keepalive_connections=128, keepalive_expiry=2.0)
    errors: list[str] = []
    async with httpx2.AsyncClient(base_url=stack.parley.url, limits=limits, timeout=60.0) as client:
        deadline = time.monotonic() + args.timeout
        results = {"bulk": await bulk(client, args, errors, deadline)}
        results["first_event"] = await first_events(client, args.first_events, deadline)
        results["persist_cost"] = await persist_cost(
            client, stack.parley.proc.pid, args.cost_blocks, args.cost_concurrency
        )
    results["errors"] = {"count": len(errors), "samples": errors[:5]}
    return results


def verdict(results: Json) -> Json:
    by_status = results["bulk"]["by_status"]
    left = results["first_event"]["left_by_status"]
    ratio = results["persist_cost"]["cpu_ratio_background_over_foreground"]
    return {
        "none_lost": by_status.get("completed", 0) == results["bulk"]["responses"]
        and left.get("completed", 0) == results["first_event"]["samples"],
        "first_event_p50": results["first_event"]["p50_ms"] <= TARGET_FIRST_EVENT_P50_MS,
        "persist_cost": ratio is not None and ratio <= TARGET_CPU_RATIO,
    }


async def run(args: argparse.Namespace, tmp: Path, procs: contextlib.ExitStack) -> Json:
    async with asyncio.timeout(args.timeout):
        results = await measure(args, tmp, procs)
    config: dict[str, Any] = {key: value for key, value in vars(args).items() if key != "out"}
    return {
        **provenance("bench_background"),
        "config": {**config, "parley_src": parley_src()},
        **results,
        "targets": {"first_event_p50_ms": TARGET_FIRST_EVENT_P50_MS, "cpu_ratio": TARGET_CPU_RATIO},
        "targets_met": verdict(results),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = with_servers(lambda tmp, procs: run(args, tmp, procs))
    except TimeoutError:
        print(f"bench_background: gave up after {args.timeout} s", file=sys.stderr)
        return 2
    emit(result, args.out)
    return 0 if result["errors"]["count"] == 0 and result["targets_met"]["none_lost"] else 1


if __name__ == "__main__":
    sys.exit(main())

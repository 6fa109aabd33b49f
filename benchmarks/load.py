"""Drive a server with concurrent operations and reduce what came back to comparable numbers.

The benchmark's claims are ratios between Parley and the upstream under the same load, so both
sides must be driven, timed and summarised by exactly the same code. This module is that code:
small HTTP helpers that turn any failure into a report of what was sent and what came back, a load
runner (a fixed number of operations shared by N workers, with server and client CPU charged to
the run), and the reductions to percentiles, throughput, CPU per response and Parley-vs-upstream
comparisons that end up in the JSON line.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx2
import orjson
from harness import Json, Target, cpu_seconds

JSON_HEADERS = {"content-type": "application/json"}


# --- requests -----------------------------------------------------------------------------------


class Failure(Exception):
    """A request that did not succeed, with exactly what was sent and what came back."""

    def __init__(self, url: str, request: Json, status: int | None, response: str) -> None:
        super().__init__(f"POST {url} -> {status}")
        self.report = {"url": url, "request": request, "status": status, "response": response[:4000]}


@dataclass
class Errors:
    count: int = 0
    samples: list[Json] = field(default_factory=list)

    def add(self, label: str, exc: Exception) -> None:
        self.count += 1
        if len(self.samples) < 5:
            report = exc.report if isinstance(exc, Failure) else {"exception": repr(exc)}
            self.samples.append({"run": label, **report})
            print(f"  ERROR in {label}: {orjson.dumps(report).decode()[:2000]}", file=sys.stderr)


@dataclass(frozen=True)
class Timing:
    """What an operation measured itself; the runner measures total latency."""

    first_byte_ms: float | None = None
    first_token_ms: float | None = None
    turns_ms: tuple[float, ...] = ()


Op = Callable[[httpx2.AsyncClient], Awaitable[Timing]]
"""One benchmarked operation: it raises ``Failure`` unless the answer has the right shape."""


def check(ok: bool, client: httpx2.AsyncClient, path: str, request: Json, response: object) -> None:
    if not ok:
        text = response.decode(errors="replace") if isinstance(response, bytes) else repr(response)
        raise Failure(f"{client.base_url}{path}", request, 200, text)


async def post_json(client: httpx2.AsyncClient, path: str, body: Json) -> Json:
    response = await client.post(path, content=orjson.dumps(body), headers=JSON_HEADERS)
    if not 200 <= response.status_code < 300:
        raise Failure(f"{client.base_url}{path}", body, response.status_code, response.text)
    value: Json = orjson.loads(response.content)
    return value


async def post_stream(
    client: httpx2.AsyncClient, path: str, body: Json, first_token: re.Pattern[bytes]
) -> tuple[bytes, Timing]:
    """Read a whole streamed body, noting when the first byte and the first text token arrived."""
    start = time.perf_counter()
    first_byte_ms: float | None = None
    first_token_ms: float | None = None
    chunks: list[bytes] = []
    async with client.stream("POST", path, content=orjson.dumps(body), headers=JSON_HEADERS) as response:
        if not 200 <= response.status_code < 300:
            text = (await response.aread()).decode(errors="replace")
            raise Failure(f"{client.base_url}{path}", body, response.status_code, text)
        async for chunk in response.aiter_raw():
            now_ms = (time.perf_counter() - start) * 1000
            first_byte_ms = now_ms if first_byte_ms is None else first_byte_ms
            if first_token_ms is None and first_token.search(chunk):
                first_token_ms = now_ms
            chunks.append(chunk)
    return b"".join(chunks), Timing(first_byte_ms, first_token_ms)


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Run:
    latencies_ms: list[float] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float | None = None
    client_cpu_s: float = 0.0
    errors: int = 0


async def run_load(
    target: Target, op: Op, n: int, concurrency: int, *, errors: Errors, label: str, ramp_s: float = 0.0
) -> Run:
    """``n`` operations by ``concurrency`` workers sharing one counter; failures are counted, not timed.

    Worker k starts ``k * ramp_s / concurrency`` seconds late, so that equally long operations (paced
    streams) run staggered, as independent clients would, instead of in synchronized waves.
    """
    run = Run()
    indices = iter(range(n))
    failed_before = errors.count

    async def worker(k: int) -> None:
        await asyncio.sleep(k * ramp_s / concurrency)
        for _ in indices:
            start = time.perf_counter()
            try:
                timing = await op(target.client)
            except (Failure, httpx2.HTTPError) as exc:
                errors.add(label, exc)
                continue
            run.latencies_ms.append((time.perf_counter() - start) * 1000)
            run.timings.append(timing)

    cpu_before, client_before = cpu_seconds(target.pid), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    run.wall_s = time.perf_counter() - started
    cpu_after, run.client_cpu_s = cpu_seconds(target.pid), time.process_time() - client_before
    if cpu_before is not None and cpu_after is not None:
        run.cpu_s = cpu_after - cpu_before
    run.errors = errors.count - failed_before
    return run


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; None when there is nothing to rank."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 3)


def summarize(run: Run, per_op: list[float], responses_per_op: float) -> Json:
    """p50/p99 over ``per_op`` latencies, throughput as those units per second, server CPU per response."""
    responses = len(run.timings) * responses_per_op
    out: Json = {
        "n": len(per_op),
        "errors": run.errors,
        "p50_ms": percentile(per_op, 50),
        "p99_ms": percentile(per_op, 99),
        "throughput_rps": round(len(per_op) / run.wall_s, 2) if run.wall_s else None,
        "cpu_ms_per_response": (
            round(run.cpu_s * 1000 / responses, 3) if run.cpu_s is not None and responses else None
        ),
        "client_cpu_ms_per_op": round(run.client_cpu_s * 1000 / len(run.timings), 3) if run.timings else None,
    }
    first_bytes = [t.first_byte_ms for t in run.timings if t.first_byte_ms is not None]
    if first_bytes:
        out["ttfb_p50_ms"] = percentile(first_bytes, 50)
        out["ttft_p50_ms"] = percentile(
            [t.first_token_ms for t in run.timings if t.first_token_ms is not None], 50
        )
    return out


def compare(parley: Json, upstream: Json) -> Json:
    p50s, rates = (
        (parley["p50_ms"], upstream["p50_ms"]),
        (parley["throughput_rps"], upstream["throughput_rps"]),
    )
    return {
        "parley": parley,
        "upstream": upstream,
        "added_ms_p50": round(p50s[0] - p50s[1], 3) if None not in p50s else None,
        "throughput_ratio": round(rates[0] / rates[1], 3) if None not in rates and rates[1] else None,
    }


def progress(name: str, level: int, parley: Json, upstream: Json) -> None:
    """Both sides of one scenario at one level, on stderr, so a long run shows where it is."""

    def line(s: Json) -> str:
        return f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, {s['throughput_rps']}/s, {s['errors']} errors"

    print(f"{name} c={level}\n  upstream {line(upstream)}\n  parley   {line(parley)}", file=sys.stderr)


CHAIN_WINDOW = 5
"""Turns at each end of a chain that stand for "turn 1" and "the last turn": one turn per chain is too
few samples to compare a millisecond with a millisecond."""


def chain_stats(run: Run, turns_per_chain: int) -> Json:
    """Per-turn latency over every turn of every chain, plus the median of the first and last turns."""
    turns = [t.turns_ms for t in run.timings]
    out = summarize(run, [ms for chain in turns for ms in chain], turns_per_chain)
    window = max(1, min(CHAIN_WINDOW, turns_per_chain // 4))
    out["chains"] = len(turns)
    out["turn1_ms"] = percentile([ms for chain in turns for ms in chain[:window]], 50)
    out["turn_last_ms"] = percentile([ms for chain in turns for ms in chain[-window:]], 50)
    first, last = out["turn1_ms"], out["turn_last_ms"]
    out["turn_last_over_turn1"] = round(last / first, 3) if first and last is not None else None
    return out

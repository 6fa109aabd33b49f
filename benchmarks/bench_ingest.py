"""Does ingestion keep up with its embedder? Target: end to end >= 0.8x the embedder's own throughput.

Ingestion is parse -> chunk -> embed -> index, and the embedder is the only part that should cost
anything. This script writes a deterministic corpus of prose files of mixed length (English
paragraphs from the standard library's docs and docstrings, ``--min-words``..``--max-words`` words
each) and measures, on the same chunk texts:

* ``embedder``: ``parley.providers.embedders.local_embedder()`` alone, warm (the model is loaded and
  used once before the clock starts), embedding exactly the chunks ingestion makes of the corpus
  (``extract_text`` + ``chunk_text`` with the default strategy) in ingestion's own calls of
  ``EMBED_BATCH`` texts. Parsing and chunking are timed separately and are not in this number;
* ``api``: Parley in-process (``create_app`` over ``httpx2.ASGITransport``, a fresh data dir). The
  store is searched once first so the app's embedder is loaded too; then the clock runs from the
  first ``POST /v1/files`` upload through ``POST /v1/vector_stores/{id}/file_batches`` until the
  batch's ``file_counts.in_progress`` is 0 (polled every 50 ms);
* ``cli``: ``parley ingest FOLDER --vector-store NAME --data-dir D`` as a subprocess, wall time,
  its summary line parsed. Process start-up and the model load are in that time;
  ``chunks_per_s_excl_startup`` also takes out an ``ingest`` of an empty folder and ``load_s``.

``ratio`` = ``api.chunks_per_s / embedder.chunks_per_s``; ``cli_ratio`` likewise. The chunk count
each path indexed is read back from its store's index and must equal the embedder's.

Progress goes to stderr; exactly one JSON line goes to stdout (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
import orjson
from bench_embed import prose
from harness import emit, parley_src, provenance

from parley.app import create_app, shutdown
from parley.config import ProviderConfig, Settings
from parley.providers.embedders import local_embedder
from parley.retrieval.chunking import ChunkingStrategy, chunk_text
from parley.retrieval.embedded_index import open_index
from parley.retrieval.ingest import EMBED_BATCH
from parley.retrieval.parsing import extract_text

Json = dict[str, Any]
BASE_URL = "http://parley.test"
SUMMARY = re.compile(
    r"^(?P<name>.+) \((?P<store>vs_\w+)\): (?P<done>\d+) ingested, \d+ already there, (?P<failed>\d+) failed$"
)


def log(message: str) -> None:
    print(f"[bench_ingest] {message}", file=sys.stderr, flush=True)


# --- the corpus ---------------------------------------------------------------------------------


def paragraphs() -> list[str]:
    """English paragraphs, offline and fixed per Python version: the language reference topics
    (``pydoc_data``) and the standard-library docstrings ``bench_embed`` uses."""
    from pydoc_data.topics import topics

    found = set(prose())
    for name in sorted(topics):
        for raw in topics[name].split("\n\n"):
            text = " ".join(raw.split())
            if len(text) > 200 and sum(c.isalpha() or c == " " for c in text) / len(text) > 0.9:
                found.add(text)
    return sorted(found)


def write_corpus(folder: Path, files: int, min_words: int, max_words: int, seed: int) -> list[Path]:
    """``files`` text files of uniformly min..max words, paragraphs drawn at random (deterministic)."""
    rng = random.Random(seed)
    pool = paragraphs()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        target = rng.randint(min_words, max_words)
        parts: list[str] = []
        words = 0
        while words < target:
            paragraph = rng.choice(pool).split()[: target - words]
            parts.append(" ".join(paragraph))
            words += len(paragraph)
        path = folder / f"doc_{i:04d}.txt"
        path.write_text(f"Document {i}\n\n" + "\n\n".join(parts) + "\n")
        paths.append(path)
    return paths


def chunk_texts(paths: list[Path]) -> tuple[list[str], float]:
    """Exactly the chunk texts ingestion makes of these files, and the seconds parsing + chunking took."""
    started = time.perf_counter()
    texts = [
        chunk.text
        for path in paths
        for chunk in chunk_text(extract_text(path.read_bytes(), path.name), ChunkingStrategy())
    ]
    return texts, time.perf_counter() - started


# --- (a) the embedder alone ---------------------------------------------------------------------


async def embedder_alone(texts: list[str]) -> Json:
    embedder = local_embedder()
    try:
        started = time.perf_counter()
        await embedder.embed(["load"])
        load_s = time.perf_counter() - started
        await embedder.embed(texts[:8])  # warm: the first full-size batch allocates
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(texts), EMBED_BATCH):
            await embedder.embed(texts[i : i + EMBED_BATCH])
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await embedder.aclose()
    return {
        "model": embedder.model,
        "load_s": round(load_s, 3),
        "seconds": round(seconds, 2),
        "chunks_per_s": round(len(texts) / seconds, 2),
        "cpu_s": round(cpu_s, 2),
    }


# --- (b) end to end through the HTTP API (create_app in-process) ---------------------------------


async def check(response: httpx2.Response) -> Json:
    if not 200 <= response.status_code < 300:
        request = response.request
        raise RuntimeError(
            f"{request.method} {request.url} -> {response.status_code}: {response.text[:2000]}"
        )
    value: Json = orjson.loads(response.content)
    return value


async def through_api(paths: list[Path], data_dir: Path, expected_chunks: int) -> Json:
    settings = Settings(data_dir=data_dir, providers=(ProviderConfig("default", "http://127.0.0.1:9/v1"),))
    app = create_app(settings)
    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE_URL, timeout=600)
    try:
        store = await check(await client.post("/v1/vector_stores", json={"name": "bench-ingest"}))
        started = time.perf_counter()
        await check(await client.post(f"/v1/vector_stores/{store['id']}/search", json={"query": "warm up"}))
        warm_s = time.perf_counter() - started  # the app's embedder loads here, outside the clock
        started, cpu = time.perf_counter(), time.process_time()
        file_ids = []
        for path in paths:
            upload = {"file": (path.name, path.read_bytes(), "text/plain")}
            file_ids.append(
                (await check(await client.post("/v1/files", files=upload, data={"purpose": "assistants"})))[
                    "id"
                ]
            )
        uploaded = time.perf_counter()
        batch = await check(
            await client.post(f"/v1/vector_stores/{store['id']}/file_batches", json={"file_ids": file_ids})
        )
        while batch["file_counts"]["in_progress"]:
            await asyncio.sleep(0.05)
            batch = await check(
                await client.get(f"/v1/vector_stores/{store['id']}/file_batches/{batch['id']}")
            )
        done = time.perf_counter()
        cpu_s = time.process_time() - cpu
    finally:
        await client.aclose()
        await shutdown(app)
    chunks = indexed_chunks(data_dir, store["id"])
    seconds = done - started
    return {
        "warmup_search_s": round(warm_s, 3),
        "upload_s": round(uploaded - started, 2),
        "seconds": round(seconds, 2),
        "attach_to_done_s": round(done - uploaded, 2),
        "chunks": chunks,
        "chunks_match": chunks == expected_chunks,
        "file_counts": batch["file_counts"],
        "chunks_per_s": round(chunks / seconds, 2),
        "cpu_s": round(cpu_s, 2),
    }


def indexed_chunks(data_dir: Path, store_id: str) -> int:
    index = open_index(data_dir / "vector_stores" / store_id, local_embedder().dimension)
    try:
        return index.count()
    finally:
        index.close()


# --- (c) the CLI --------------------------------------------------------------------------------


def run_cli(folder: Path, data_dir: Path, name: str) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    argv = [
        sys.executable,
        "-m",
        "parley",
        "ingest",
        str(folder),
        "--vector-store",
        name,
        "--data-dir",
        str(data_dir),
    ]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=3600, check=False)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"parley ingest exited with {done.returncode}:\n{done.stderr[-4000:]}")
    return seconds, done.stderr


def through_cli(folder: Path, work: Path, expected_files: int, expected_chunks: int, load_s: float) -> Json:
    empty = work / "empty"
    empty.mkdir()
    startup_s, _ = run_cli(empty, work / "cli-empty", "empty")
    seconds, stderr = run_cli(folder, work / "cli", "bench-cli")
    lines = [m for m in (SUMMARY.match(line.strip()) for line in stderr.splitlines()) if m]
    if not lines:
        raise RuntimeError(f"no summary line in parley ingest's output:\n{stderr[-4000:]}")
    summary = lines[-1]
    chunks = indexed_chunks(work / "cli", summary["store"])
    net = seconds - startup_s - load_s
    return {
        "seconds": round(seconds, 2),
        "startup_s": round(startup_s, 2),
        "summary": summary.group(0),
        "files_ingested": int(summary["done"]),
        "files_failed": int(summary["failed"]),
        "chunks": chunks,
        "chunks_match": chunks == expected_chunks and int(summary["done"]) == expected_files,
        "chunks_per_s": round(chunks / seconds, 2),
        "chunks_per_s_excl_startup": round(chunks / net, 2) if net > 0 else None,
    }


# --- the report ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace, work: Path) -> Json:
    load_before = os.getloadavg()[0]
    paths = write_corpus(work / "corpus", args.files, args.min_words, args.max_words, args.seed)
    texts, parse_s = chunk_texts(paths)
    words = sum(len(p.read_text().split()) for p in paths)
    log(f"{len(paths)} files, {words} words -> {len(texts)} chunks (parse + chunk {parse_s:.2f} s)")
    log("(a) the embedder alone...")
    alone = await embedder_alone(texts)
    log(f"    {alone['chunks_per_s']} chunks/s")
    log("(b) end to end through the API...")
    api = await through_api(paths, work / "api", len(texts))
    log(f"    {api['chunks_per_s']} chunks/s")
    cli: Json | None = None
    if not args.skip_cli:
        log("(c) parley ingest...")
        cli = through_cli(work / "corpus", work, len(paths), len(texts), alone["load_s"])
        log(f"    {cli['chunks_per_s']} chunks/s ({cli['chunks_per_s_excl_startup']} without start-up)")
    ok = api["chunks_match"] and api["file_counts"]["failed"] == 0 and (cli is None or cli["chunks_match"])
    return {
        **provenance(
            "bench_ingest",
            load_avg_1m_before=round(load_before, 2),
            load_avg_1m_after=round(os.getloadavg()[0], 2),
        ),
        "config": {
            "files": args.files,
            "min_words": args.min_words,
            "max_words": args.max_words,
            "seed": args.seed,
            "quick": args.quick,
            "embed_batch": EMBED_BATCH,
            "chunking": ChunkingStrategy().wire()["static"],
            "parley_src": parley_src(),
        },
        "corpus": {
            "files": len(paths),
            "words": words,
            "bytes": sum(p.stat().st_size for p in paths),
            "chunks": len(texts),
            "parse_chunk_s": round(parse_s, 3),
        },
        "embedder": alone,
        "api": api,
        "cli": cli,
        "ratio": round(api["chunks_per_s"] / alone["chunks_per_s"], 3),
        "cli_ratio": round(cli["chunks_per_s"] / alone["chunks_per_s"], 3) if cli else None,
        "cli_ratio_excl_startup": (
            round(cli["chunks_per_s_excl_startup"] / alone["chunks_per_s"], 3)
            if cli and cli["chunks_per_s_excl_startup"]
            else None
        ),
        "target_ratio": 0.8,
        "ok": ok,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="30 short files: a smoke run")
    parser.add_argument("--files", type=int, help="files in the corpus (default 40, 30 with --quick)")
    parser.add_argument("--min-words", type=int, help="shortest file (default 200, 40 with --quick)")
    parser.add_argument("--max-words", type=int, help="longest file (default 3000, 120 with --quick)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-cli", action="store_true", help="leave out the parley ingest subprocess")
    parser.add_argument("--out", type=Path, help="also append the JSON line to this file")
    args = parser.parse_args(argv)
    args.files = args.files or (30 if args.quick else 40)
    args.min_words = args.min_words or (40 if args.quick else 200)
    args.max_words = args.max_words or (120 if args.quick else 3000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_ingest-") as tmp:
        report = asyncio.run(run(args, Path(tmp)))
    emit(report, args.out)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

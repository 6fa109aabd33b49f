"""``benchmarks/bench_index.py --quick`` still runs end to end and reports every measurement.

It builds a 10k-chunk index, reopens it in a child process and searches it, so this catches a
broken script as well as an index that no longer reopens or whose recall has collapsed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_index.py"
SEARCHES = ("none", "filter_10pct", "filter_1pct")
SEARCH_KEYS = {
    "recall_at_10", "batch_qps", "batch_cpu_ms_per_query", "single_p50_ms", "single_p99_ms", "single_qps",
    "single_cpu_ms_per_query", "first_query_ms",
}  # fmt: skip


def test_quick_index_benchmark_reports_every_measurement() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"expected one JSON line on stdout:\n{done.stdout}"
    report = json.loads(lines[0])
    assert report["benchmark"] == "bench_index"
    assert set(report) >= {"commit", "date", "machine", "config", "results"}
    result = report["results"]["10k"]
    assert result["n"] == 10_000
    assert result["build_s"] > 0
    assert result["reopen_s"] < 5
    assert result["index_rss_mb"] > 0
    for name in SEARCHES:
        assert set(result[name]) == SEARCH_KEYS, name
        assert result[name]["recall_at_10"] >= 0.9, name

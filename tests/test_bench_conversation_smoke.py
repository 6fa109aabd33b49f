"""``benchmarks/bench_conversation.py --quick`` runs end to end on real servers and reports both sizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_conversation.py"


def test_quick_conversation_benchmark_reports_both_sizes() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=120, check=False
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr[-4000:]
    assert len(lines) == 1, done.stdout
    report = orjson.loads(lines[0])
    assert report["benchmark"] == "bench_conversation"
    assert set(report["results"]) == {"10", "200"}
    for size in report["results"].values():
        assert size["turns"] == 30
        assert size["p50_ms"] > 0
    assert report["cpu_ratio_large_over_small"] is not None

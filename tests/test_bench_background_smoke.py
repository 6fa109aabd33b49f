"""``benchmarks/bench_background.py --quick`` runs end to end on real servers and reports all three
questions, with every background response completed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_background.py"


def test_quick_background_benchmark_reports_bulk_first_event_and_persist_cost() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=120, check=False
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr[-4000:]
    assert len(lines) == 1, done.stdout
    report = orjson.loads(lines[0])
    assert report["benchmark"] == "bench_background"
    assert report["bulk"]["by_status"] == {"completed": 60, "lost": 0}
    assert report["first_event"]["left_by_status"] == {"completed": 20, "lost": 0}
    assert report["first_event"]["p50_ms"] > 0
    cost = report["persist_cost"]
    for kind in ("foreground", "background"):
        assert cost[kind]["cpu_ms_per_response"] > 0
        assert cost[kind]["events_per_response"] > 20
    assert cost["cpu_ratio_background_over_foreground"] is not None
    assert report["errors"]["count"] == 0

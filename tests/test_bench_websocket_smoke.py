"""``benchmarks/bench_websocket.py --quick`` runs end to end on real servers and reports both transports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_websocket.py"


def test_quick_websocket_benchmark_reports_both_transports_at_both_levels() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=120, check=False
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr[-4000:]
    assert len(lines) == 1, done.stdout
    report = orjson.loads(lines[0])
    assert report["benchmark"] == "bench_websocket"
    assert set(report["results"]) == {"c1", "c32"}
    for level in report["results"].values():
        for transport in ("http", "ws"):
            assert level[transport]["turns"] >= 96
            assert level[transport]["p50_ms"] > 0
            assert level[transport]["parley_cpu_ms_per_turn"] > 0
        assert level["cpu_ratio_ws_over_http"] > 0
        assert level["p50_ratio_ws_over_http"] > 0

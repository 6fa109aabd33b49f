"""``benchmarks/bench_overhead.py --quick`` still runs end to end and every request in it succeeds.

The benchmark drives real subprocesses (the fake upstream and ``parley serve``) on loopback, so this
catches a broken script, a server that no longer starts, and any scenario Parley now fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_overhead.py"
SCENARIOS = {"text", "stream", "stream_paced", "function_loop", "chain"}
SIDE_KEYS = {"n", "errors", "p50_ms", "p99_ms", "throughput_rps", "cpu_ms_per_response"}


def test_quick_benchmark_reports_every_scenario_without_errors() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--timeout", "100"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"expected one JSON line on stdout:\n{done.stdout}\n{done.stderr[-4000:]}"
    report = orjson.loads(lines[0])
    assert report["errors"] == 0, orjson.dumps(report["error_samples"], option=orjson.OPT_INDENT_2).decode()
    assert done.returncode == 0, done.stderr[-4000:]

    assert set(report) >= {
        "commit", "date", "machine", "config", "scenarios", "chain_turn50_over_turn1",
        "idle_rss_mb", "cpu_ms_per_response", "errors",
    }  # fmt: skip
    assert set(report["scenarios"]) == SCENARIOS
    for name, levels in report["scenarios"].items():
        assert set(levels) == {"c1", "c64"}, name
        for level, entry in levels.items():
            assert set(entry) == {"parley", "upstream", "added_ms_p50", "throughput_ratio"}, (name, level)
            for side in ("parley", "upstream"):
                assert set(entry[side]) >= SIDE_KEYS, (name, level, side)
                assert entry[side]["n"] > 0, (name, level, side)
                assert entry[side]["errors"] == 0, (name, level, side)
            assert entry["added_ms_p50"] is not None, (name, level)
            assert entry["throughput_ratio"] > 0, (name, level)
    for name in ("stream", "stream_paced"):
        assert report["scenarios"][name]["c1"]["parley"]["ttfb_p50_ms"] > 0
    assert set(report["chain_turn50_over_turn1"]) == {"c1", "c64"}
    assert report["idle_rss_mb"] > 0
    assert report["cpu_ms_per_response"] > 0

"""``benchmarks/bench_memory.py --quick`` runs end to end on real servers and reports."""

from __future__ import annotations

from tests.support.bench import quick_report


def test_quick_memory_benchmark_reports_open_and_stalled_streams() -> None:
    results = quick_report("bench_memory.py")["results"]
    opened, stalled = results["open_streams"], results["stalled"]
    assert (opened["streams"], opened["errors"]) == (200, 0)
    assert opened["peak_rss_mb"] >= results["idle_rss_mb"] > 0
    assert stalled["clients"] == 4
    assert stalled["rss_when_stalled_mb"] > stalled["idle_rss_mb"]  # each holds what it has said

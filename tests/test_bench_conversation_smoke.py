"""``benchmarks/bench_conversation.py --quick`` runs end to end on real servers and reports both sizes."""

from __future__ import annotations

from tests.support.bench import quick_report


def test_quick_conversation_benchmark_reports_both_sizes() -> None:
    report = quick_report("bench_conversation.py")
    assert set(report["results"]) == {"10", "200"}
    for size in report["results"].values():
        assert size["turns"] == 30
        assert size["p50_ms"] > 0
    assert report["cpu_ratio_large_over_small"] is not None

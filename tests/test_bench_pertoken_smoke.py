"""``benchmarks/bench_pertoken.py --quick`` runs the real provider and pipeline from memory and reports."""

from __future__ import annotations

from tests.support.bench import quick_report


def test_quick_per_token_benchmark_reports_token_and_response_costs() -> None:
    report = quick_report("bench_pertoken.py")
    assert report["cpu_ms_long_response"] > report["cpu_ms_short_response"] > 0
    assert report["cpu_us_per_token"] > 0

"""``benchmarks/bench_auth.py --quick`` runs end to end on real servers, one with a key, and reports."""

from __future__ import annotations

from tests.support.bench import quick_report


def test_quick_auth_benchmark_reports_overhead_and_a_clean_burst() -> None:
    results = quick_report("bench_auth.py")["results"]
    assert set(results["parley_cpu_ms_per_request"]) == {"auth", "no_auth"}
    assert all(ms > 0 for ms in results["parley_cpu_ms_per_request"].values())
    burst = results["burst"]
    assert (burst["errors"], burst["retrievable_after"]) == (0, burst["streams"])

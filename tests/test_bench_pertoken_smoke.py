"""``benchmarks/bench_pertoken.py --quick`` runs the real provider and pipeline from memory, then
``parley serve`` over fake upstreams on loopback, and reports both."""

from __future__ import annotations

from tests.support.bench import quick_report


def test_quick_per_token_benchmark_reports_token_and_response_costs() -> None:
    report = quick_report("bench_pertoken.py")
    assert report["cpu_ms_long_response"] > report["cpu_ms_short_response"] > 0
    assert report["cpu_us_per_token"] > 0
    end_to_end = report["end_to_end"]
    for pace in ("unpaced", "paced"):
        assert end_to_end[pace]["cpu_us_per_token"] > 0
        assert end_to_end[pace]["cpu_ms_per_response"] > 0
    assert end_to_end["floor"]["paced_upstream"]["cpu_us_per_token"] > 0

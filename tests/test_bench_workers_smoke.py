"""``benchmarks/bench_workers.py --quick`` runs end to end on real servers (``--workers 1`` and
``--workers 2``) and reports both beside the upstream."""

from __future__ import annotations

from tests.support.bench import quick_report


def test_quick_workers_benchmark_reports_both_worker_counts() -> None:
    report = quick_report("bench_workers.py", timeout=180)
    for section in ("paced_streams", "nonstream"):
        assert set(report[section]) == {"upstream", "workers1", "workers2"}
        assert all(row["n"] > 0 and row["per_s"] > 0 for row in report[section].values())
    assert report["paced_streams"]["workers2"]["cpu_us_per_token"] > 0
    assert report["nonstream_workers2_vs_workers1"] > 0
